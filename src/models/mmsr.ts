/**
 * MMSR (CIKM 2023), as its public code builds it (`HoldenHu/MMSR`; the peers' spec,
 * docs/models.md): each training prefix is a graph of its distinct items and of the content
 * clusters they link to (mmsr-graph.ts: ten typed edges); one layer of graph attention mixes the
 * nodes in two orders, and a per-node gate picks between them. The last item's node state
 * scores every item's ID embedding.
 *
 *   clusters  k-means of each modality's features (kmeans.ts); item i links to its linkK nearest
 *   nodes     h0 = [E(node) ; T(type) ; mean P(positions)] · W_pt        (no bias)
 *   typed     Q = h0 · W_Q[type];  K = V = Q  (the code's, literal; separateKV adds W_K, W_V)
 *   hete      β = dropout(softmax_{adj ∈ {1, 5..10}} LeakyReLU(Q Kᵀ))
 *   homo(X)   α = dropout(softmax_{adj ∈ {1..4}} LeakyReLU(a_{adj}ᵀ(x_i ⊙ x_j)))
 *   orders    BA = homo(β V) · V          AB = β' V   (β with a fresh dropout draw)
 *   gate      g = softmax([mlp(AB), mlp(BA)]);  out = dropout(g₀ AB + g₁ BA)
 *   score     ŷ = out[last item's node] · E_idᵀ
 *
 * Items never seen in training have only their untrained ID row as a candidate: MMSR cannot
 * rank them (ranksUnseenItems false), though their cluster links are read in a history.
 */
import { relu, leakyRelu } from '../engine/ops/activation.js';
import { noGrad } from '../engine/autograd.js';
import { dropout } from '../engine/ops/dropout.js';
import { add, mul } from '../engine/ops/elementwise.js';
import { linearCrossEntropy } from '../engine/ops/loss.js';
import { bmm, linear, matmul } from '../engine/ops/matmul.js';
import { addToRows, concat, indexRows, reshape, scatterRows, slice } from '../engine/ops/shape.js';
import { relationScores } from '../engine/ops/relation-scores.js';
import { maskedSoftmax, softmax } from '../engine/ops/softmax.js';
import { uniformParam } from '../engine/nn/init.js';
import { Rng } from '../engine/rng.js';
import { Tensor } from '../engine/tensor.js';
import { clusterLinks, nearestCentroids } from './kmeans.js';
import { buildSampleGraph, EDGE, NODE_ITEM, NODE_TEXT, type SampleGraph } from './mmsr-graph.js';
import { modelRng } from './model-rng.js';
import type { ItemFeatures, LossResult, ModelData, Scorer, SequenceBatch } from './model.js';
import { lastRows, SequentialModel, TrainingCandidates } from './model.js';

export interface MmsrConfig {
  items: number;
  maxLen: number;
  dim: number;
  /** Clusters per content modality (C). */
  clusters: number;
  /** Clusters each item links to per modality. */
  linkK: number;
  /** The code's skip-on-repeat edge rule (mmsr-graph.ts). */
  strictEdges: boolean;
  /** Separate key and value projections (the code uses K = V = Q). */
  separateKV: boolean;
  attentionDropout: number;
  outputDropout: number;
  /** Items 1..clusteredItems are the ones k-means clusters (the trained catalog; later items only link). */
  clusteredItems: number;
  seed: number;
  loadsWeights?: boolean;
  heldOut?: Uint8Array;
}

/** The code's LeakyReLU slope in both attentions. */
const SLOPE = 0.1;
const HOMO_EDGES = [EDGE.self, EDGE.out, EDGE.in, EDGE.both];
const HETE_EDGES: readonly number[] = [
  EDGE.self,
  EDGE.itemToImage,
  EDGE.imageToItem,
  EDGE.itemToText,
  EDGE.textToItem,
  EDGE.imageToText,
  EDGE.textToImage,
];
/** Node types 0 (padding) to 3, as the code's Embedding(4, d). */
const TYPES = 4;

/** One content modality's clusters: each item's linked cluster ids, and the cluster rows' first values. */
interface ModalityClusters {
  links: number[][];
  /** [C, d]: the centroids in d dimensions, min-max scaled into the initial weights' range. */
  rows: Float32Array;
  count: number;
}

/** The batch as graphs: B samples of N node slots each. */
interface GraphBatch {
  B: number;
  N: number;
  /** Slots holding an item node, and the item ids. */
  itemSlots: Int32Array;
  itemIds: Int32Array;
  /** Slots holding a cluster node, and the cluster rows (image clusters first). */
  clusterSlots: Int32Array;
  clusterRows: Int32Array;
  /** Node type per slot (0: padding), and the slots of each type (index 1..3). */
  types: Int32Array;
  typeSlots: Int32Array[];
  /** [B·N·N] edge types. */
  adj: Int8Array;
  /** Position-mean pairs: slot, position, 1 / occurrences of the slot's node. */
  pairSlots: Int32Array;
  pairPositions: Int32Array;
  pairWeights: Float32Array;
  /** The slot of each sample's last item. */
  lastSlots: Int32Array;
}

export class Mmsr extends SequentialModel {
  readonly kind = 'mmsr';
  readonly trainable = true;
  readonly ranksUnseenItems = false;
  /** Item ID embeddings (row 0 = padding): the node input of items, and the score table. */
  readonly itemEmb: Tensor;
  /** Cluster node embeddings, image clusters then text clusters (trainable). */
  readonly clusterEmb: Tensor | null;
  readonly typeEmb: Tensor;
  readonly positionEmb: Tensor;
  readonly wPt: Tensor;
  /** [TYPES, d, d] per-type query (and key, value) projections; type 0 is never used. */
  readonly wQ: Tensor;
  readonly wK: Tensor | null;
  readonly wV: Tensor | null;
  /** [4, d]: the relation vectors a_r of the homogeneous attention (r = 1..4). */
  readonly relations: Tensor;
  readonly gate: { w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor };
  readonly rng: Rng;
  /** Image and text clusters (null: the dataset has no such features). */
  private readonly image: ModalityClusters | null;
  private readonly text: ModalityClusters | null;
  private readonly candidates: TrainingCandidates | null;

  constructor(
    readonly config: MmsrConfig,
    data: ModelData,
  ) {
    super();
    const rng = modelRng(config);
    const d = config.dim;
    // The code re-initialises every parameter U(−1/√d, 1/√d).
    const u = (name: string, shape: number[]) => this.param(name, uniformParam(shape, 1 / Math.sqrt(d), rng));
    this.itemEmb = u('item_embedding', [config.items + 1, d]);
    this.image = data.image ? modalityClusters(data.image, config, data.items, 1) : null;
    this.text = data.text ? modalityClusters(data.text, config, data.items, 2) : null;
    const imageCount = this.image?.count ?? 0;
    const clusterCount = imageCount + (this.text?.count ?? 0);
    this.clusterEmb = clusterCount ? u('cluster_embedding', [clusterCount, d]) : null;
    // Cluster rows start from the centroids (after the uniform draw, as in the code).
    if (this.image) this.clusterEmb!.data.set(this.image.rows, 0);
    if (this.text) this.clusterEmb!.data.set(this.text.rows, imageCount * d);
    this.typeEmb = u('type_embedding', [TYPES, d]);
    this.positionEmb = u('position_embedding', [config.maxLen, d]);
    this.wPt = u('w_pt', [3 * d, d]);
    this.wQ = u('w_q', [TYPES, d, d]);
    this.wK = config.separateKV ? u('w_k', [TYPES, d, d]) : null;
    this.wV = config.separateKV ? u('w_v', [TYPES, d, d]) : null;
    this.relations = u('relations', [HOMO_EDGES.length, d]);
    this.gate = {
      w1: u('gate_w1', [d, d]),
      b1: u('gate_b1', [d]),
      w2: u('gate_w2', [1, d]),
      b2: u('gate_b2', [1]),
    };
    this.rng = rng.fork();
    this.candidates = TrainingCandidates.of(config);
  }

  get maxLen(): number {
    return this.config.maxLen;
  }

  /** h [B, d]: the state of each sample's last item node. */
  forward(batch: SequenceBatch): Tensor {
    const g = this.graphs(batch);
    const { B, N } = g;
    const d = this.config.dim;
    const h0 = matmul(
      concat([this.nodeEmbeddings(g), indexRows(this.typeEmb, g.types), this.positions(g)], 1),
      this.wPt,
    );
    const q = this.typed(h0, g, this.wQ);
    const k = this.wK ? this.typed(h0, g, this.wK) : q;
    const v = reshape(this.wV ? this.typed(h0, g, this.wV) : q, [B, N, d]);
    const q3 = reshape(q, [B, N, d]);
    // Heterogeneous attention: its softmax once, two dropout draws (the two fusion orders).
    const heteLogits = leakyRelu(bmm(q3, reshape(k, [B, N, d]), { transB: true }), SLOPE);
    const beta = this.attention(heteLogits, edgeMask(g, HETE_EDGES));
    const p = this.config.attentionDropout;
    const drop = (t: Tensor) => dropout(t, p, this.rng, this.training);
    const heteOut = bmm(drop(beta), v);
    const ba = bmm(drop(this.homogeneous(heteOut, g)), v);
    const ab = bmm(drop(beta), v);
    const out = dropout(
      this.fuse(reshape(ab, [B * N, d]), reshape(ba, [B * N, d])),
      this.config.outputDropout,
      this.rng,
      this.training,
    );
    return indexRows(out, g.lastSlots);
  }

  loss(batch: SequenceBatch): LossResult {
    const targets = lastRows(batch).map((r) => batch.targets[r]);
    const table = this.candidates ? indexRows(this.itemEmb, this.candidates.ids) : this.itemEmb;
    const ce = linearCrossEntropy(
      this.forward(batch),
      table,
      this.candidates ? this.candidates.positions(targets) : targets,
    );
    return { total: ce, terms: { ce: ce.item() } };
  }

  scorer(): Scorer {
    return {
      dim: this.config.dim,
      items: this.itemEmb.data,
      users: (batch) => noGrad(() => this.forward(batch).data),
    };
  }

  /** E(node) per slot: item rows, cluster rows, zeros at padding. */
  private nodeEmbeddings(g: GraphBatch): Tensor {
    const items = scatterRows(indexRows(this.itemEmb, g.itemIds), g.itemSlots, g.B * g.N);
    if (!this.clusterEmb || g.clusterSlots.length === 0) return items;
    return addToRows(items, g.clusterSlots, indexRows(this.clusterEmb, g.clusterRows));
  }

  /** The mean position embedding of the positions where each node occurs (0 at padding). */
  private positions(g: GraphBatch): Tensor {
    const rows = indexRows(this.positionEmb, g.pairPositions);
    const weighted = mul(rows, new Tensor(g.pairWeights, [g.pairWeights.length, 1]));
    return scatterRows(weighted, g.pairSlots, g.B * g.N);
  }

  /** x · W[type] per slot (padding slots: 0). */
  private typed(x: Tensor, g: GraphBatch, w: Tensor): Tensor {
    const d = this.config.dim;
    let out: Tensor | null = null;
    for (let t = 1; t < TYPES; t++) {
      const slots = g.typeSlots[t];
      if (slots.length === 0) continue;
      const wt = reshape(slice(w, 0, t, t + 1), [d, d]);
      const y = matmul(indexRows(x, slots), wt);
      out = out ? addToRows(out, slots, y) : scatterRows(y, slots, g.B * g.N);
    }
    return out!;
  }

  /**
   * Relation-aware homogeneous attention weights on x [B, N, d]: e_ij = a_{adj_ij}ᵀ(x_i ⊙ x_j)
   * (the code's sum over relations of a masked bilinear product, over the related pairs only).
   */
  private homogeneous(x: Tensor, g: GraphBatch): Tensor {
    const logits = leakyRelu(relationScores(x, this.relations, relationKinds(g)), SLOPE);
    return this.attention(logits, edgeMask(g, HOMO_EDGES));
  }

  /** Softmax of logits [B, N, N] over the allowed entries (a padding row: its diagonal). */
  private attention(logits: Tensor, mask: Uint8Array): Tensor {
    const { shape } = logits;
    return reshape(maskedSoftmax(reshape(logits, [shape[0], 1, shape[1], shape[2]]), mask), shape);
  }

  /** The per-node gate between the two fusion orders: softmax over a shared MLP's two scores. */
  private fuse(ab: Tensor, ba: Tensor): Tensor {
    const { w1, b1, w2, b2 } = this.gate;
    const mlp = (x: Tensor) => linear(relu(linear(x, w1, b1)), w2, b2);
    const g = softmax(concat([mlp(ab), mlp(ba)], 1));
    return add(mul(ab, slice(g, 1, 0, 1)), mul(ba, slice(g, 1, 1, 2)));
  }

  /** Each sample's graph, padded to the batch's largest node count. */
  private graphs(batch: SequenceBatch): GraphBatch {
    const links = (m: ModalityClusters | null, items: Int32Array) =>
      Array.from(items, (i) => m?.links[i] ?? []);
    const samples = Array.from({ length: batch.size }, (_, b) => {
      const items = batch.items.subarray(batch.offsets[b], batch.offsets[b + 1]);
      return buildSampleGraph(
        { items, image: links(this.image, items), text: links(this.text, items) },
        this.config.strictEdges,
      );
    });
    return packGraphs(samples, this.image?.count ?? 0);
  }
}

/**
 * A modality's clusters: k-means over the features of items 1..clusteredItems (seeded from the
 * run's seed, so that a served bundle rebuilds the same ones), every item with the modality
 * linked to its linkK nearest centroids, and the centroids as first values of the cluster rows.
 */
function modalityClusters(f: ItemFeatures, c: MmsrConfig, items: number, salt: number): ModalityClusters {
  const fitted = Math.min(c.clusteredItems, items);
  const { centroids, links } = clusterLinks(f, fitted, c.clusters, c.linkK, c.seed * 3 + salt);
  const count = centroids.length / f.dim;
  for (let i = fitted + 1; i <= items; i++)
    links[i] = f.mask[i] ? nearestCentroids(f.matrix, i, centroids, count, f.dim, c.linkK) : [];
  return { links, rows: clusterRows(centroids, count, f.dim, c.dim, c.seed * 3 + salt), count };
}

/**
 * The centroids [count, f] as d-wide rows, min-max scaled (over the whole matrix) into the
 * initial weights' range [−1/√d, 1/√d], as the code scales its 128-d centroids. A width other
 * than d goes through a seeded Gaussian random projection first (the code's features are
 * already 128-d, through an autoencoder); it keeps the centroids' distances about the same.
 */
function clusterRows(
  centroids: Float32Array,
  count: number,
  f: number,
  d: number,
  seed: number,
): Float32Array {
  let rows = centroids;
  if (f !== d) {
    const rng = new Rng(seed);
    const projection = Float32Array.from({ length: f * d }, () => rng.normal() / Math.sqrt(d));
    rows = new Float32Array(count * d);
    for (let c = 0; c < count; c++)
      for (let e = 0; e < f; e++) {
        const x = centroids[c * f + e];
        for (let j = 0; j < d; j++) rows[c * d + j] += x * projection[e * d + j];
      }
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of rows) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const a = 1 / Math.sqrt(d);
  return rows.map((x) => (hi > lo ? -a + ((x - lo) / (hi - lo)) * 2 * a : 0));
}

/** The samples' graphs side by side, each padded to N node slots. */
function packGraphs(samples: SampleGraph[], textOffset: number): GraphBatch {
  const B = samples.length;
  const N = Math.max(...samples.map((s) => s.nodes.length));
  const types = new Int32Array(B * N);
  const adj = new Int8Array(B * N * N);
  const lastSlots = new Int32Array(B);
  const itemIds: number[] = [];
  const clusterRows: number[] = [];
  const pairSlots: number[] = [];
  const pairPositions: number[] = [];
  const pairWeights: number[] = [];
  samples.forEach((s, b) => {
    const n = s.nodes.length;
    for (let k = 0; k < n; k++) {
      const slot = b * N + k;
      types[slot] = s.types[k];
      if (s.types[k] === NODE_ITEM) itemIds.push(s.nodes[k]);
      else clusterRows.push(s.nodes[k] + (s.types[k] === NODE_TEXT ? textOffset : 0));
      adj.set(s.adj.subarray(k * n, (k + 1) * n), slot * N);
      const from = s.positionOffsets[k];
      const to = s.positionOffsets[k + 1];
      for (let p = from; p < to; p++) {
        pairSlots.push(slot);
        pairPositions.push(s.positions[p]);
        pairWeights.push(1 / (to - from));
      }
    }
    lastSlots[b] = b * N + s.alias[s.alias.length - 1];
  });
  const typeSlots = Array.from({ length: TYPES }, (_, t) =>
    Int32Array.from(types.keys()).filter((slot) => t > 0 && types[slot] === t),
  );
  return {
    B,
    N,
    itemSlots: typeSlots[NODE_ITEM],
    itemIds: Int32Array.from(itemIds),
    // Cluster slots in slot order, as clusterRows were pushed.
    clusterSlots: Int32Array.from(types.keys()).filter(
      (slot) => types[slot] > 0 && types[slot] !== NODE_ITEM,
    ),
    clusterRows: Int32Array.from(clusterRows),
    types,
    typeSlots,
    adj,
    pairSlots: Int32Array.from(pairSlots),
    pairPositions: Int32Array.from(pairPositions),
    pairWeights: Float32Array.from(pairWeights),
    lastSlots,
  };
}

/** 1 where a node may aggregate from another under `edges`; a padding slot only from itself. */
function edgeMask(g: GraphBatch, edges: readonly number[]): Uint8Array {
  const allowed = new Uint8Array(11);
  for (const e of edges) allowed[e] = 1;
  const mask = new Uint8Array(g.adj.length);
  for (let i = 0; i < mask.length; i++) mask[i] = allowed[g.adj[i]];
  for (let slot = 0; slot < g.B * g.N; slot++) if (g.types[slot] === 0) mask[slot * g.N + (slot % g.N)] = 1;
  return mask;
}

/** Each node pair's homogeneous relation as an index into HOMO_EDGES (the relation weights), or −1. */
function relationKinds(g: GraphBatch): Int32Array {
  const index = new Int32Array(11).fill(-1);
  HOMO_EDGES.forEach((e, i) => (index[e] = i));
  const kinds = new Int32Array(g.adj.length);
  for (let p = 0; p < kinds.length; p++) kinds[p] = index[g.adj[p]];
  return kinds;
}
