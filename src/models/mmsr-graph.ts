/**
 * MMSR's per-sample graph (CIKM 2023; the authors' `data_utils.py`, docs: the peers' spec): the
 * items of one history and the content clusters they link to are the nodes; typed edges say
 * how a node aggregates from another:
 *   1 self-loop (every node)                2 / 3  transition out / in (consecutive nodes)
 *   4 transition both ways                  5 / 6  item → image cluster / image cluster → item
 *   7 / 8 item → text cluster / back        9 / 10 image → text cluster / text → image cluster,
 *                                                  for the clusters of the same item.
 * Nodes: the distinct items, then the distinct image clusters, then the distinct text clusters,
 * each ascending. `adj[i·n + j]` is the relation node i uses when it aggregates from node j.
 * The code's quirk is kept (strictEdges): a step between two consecutive items that are the
 * same node, or already joined both ways, skips that step's cluster transitions too. (The code
 * also swaps the image and text slots, which only relabels types; here types say what they hold.)
 */

export const NODE_ITEM = 1;
export const NODE_IMAGE = 2;
export const NODE_TEXT = 3;

export const EDGE = {
  self: 1,
  out: 2,
  in: 3,
  both: 4,
  itemToImage: 5,
  imageToItem: 6,
  itemToText: 7,
  textToItem: 8,
  imageToText: 9,
  textToImage: 10,
} as const;

export interface SampleGraph {
  /** Node ids: item ids and cluster node ids as given, in node order. */
  nodes: Int32Array;
  /** NODE_ITEM, NODE_IMAGE or NODE_TEXT per node. */
  types: Int8Array;
  /** [n × n] edge types (0: no edge). */
  adj: Int8Array;
  /** Node index of each position of the history (oldest first). */
  alias: Int32Array;
  /** Positions where each node occurs (a cluster: where the items linked to it are), as CSR. */
  positionOffsets: Int32Array;
  positions: Int32Array;
}

export interface HistoryContent {
  /** The history's item ids, oldest first. */
  items: Int32Array;
  /** Per position, the image-cluster node ids its item links to (empty: no image). */
  image: readonly (readonly number[])[];
  /** Per position, the text-cluster node ids its item links to (empty: no text). */
  text: readonly (readonly number[])[];
}

const sortedUnique = (xs: Iterable<number>) => Int32Array.from(new Set(xs)).sort();

/** The graph of one history. */
export function buildSampleGraph(h: HistoryContent, strictEdges = true): SampleGraph {
  const L = h.items.length;
  if (h.image.length !== L || h.text.length !== L)
    throw new RangeError(
      `mmsr graph: ${L} items but ${h.image.length} image and ${h.text.length} text lists`,
    );
  const items = sortedUnique(h.items);
  const images = sortedUnique(h.image.flat());
  const texts = sortedUnique(h.text.flat());
  const nodes = Int32Array.from([...items, ...images, ...texts]);
  const n = nodes.length;
  const types = Int8Array.from(nodes, (_, k) =>
    k < items.length ? NODE_ITEM : k < items.length + images.length ? NODE_IMAGE : NODE_TEXT,
  );
  const index = (kind: number) => {
    const m = new Map<number, number>();
    nodes.forEach((id, k) => {
      if (types[k] === kind) m.set(id, k);
    });
    return (id: number) => m.get(id)!;
  };
  const itemAt = index(NODE_ITEM);
  const imageAt = index(NODE_IMAGE);
  const textAt = index(NODE_TEXT);
  const adj = new Int8Array(n * n);
  /** Edge i → j of relation r, and j → i of relation back. */
  const link = (i: number, j: number, r: number, back: number) => {
    adj[i * n + j] = r;
    adj[j * n + i] = back;
  };
  for (let k = 0; k < n; k++) adj[k * n + k] = EDGE.self;
  const alias = Int32Array.from(h.items, itemAt);
  for (let t = 0; t < L; t++) {
    const item = alias[t];
    const img = h.image[t].map(imageAt);
    const txt = h.text[t].map(textAt);
    for (const c of img) link(item, c, EDGE.itemToImage, EDGE.imageToItem);
    for (const c of txt) link(item, c, EDGE.itemToText, EDGE.textToItem);
    for (const ci of img) for (const ct of txt) link(ci, ct, EDGE.imageToText, EDGE.textToImage);
  }
  /** One transition p → q; false when the rule skips it. */
  const transition = (p: number, q: number): boolean => {
    if (p === q || adj[p * n + q] === EDGE.both) return false;
    if (adj[q * n + p] === EDGE.out) link(p, q, EDGE.both, EDGE.both);
    else link(p, q, EDGE.out, EDGE.in);
    return true;
  };
  for (let t = 0; t + 1 < L; t++) {
    if (!transition(alias[t], alias[t + 1]) && strictEdges) continue;
    for (const [lists, at] of [
      [h.image, imageAt],
      [h.text, textAt],
    ] as const)
      for (const a of lists[t]) for (const b of lists[t + 1]) transition(at(a), at(b));
  }
  return { nodes, types, adj, alias, ...nodePositions(n, alias, h, imageAt, textAt) };
}

/** Where each node occurs: an item at its positions, a cluster at those of the items linked to it. */
function nodePositions(
  n: number,
  alias: Int32Array,
  h: HistoryContent,
  imageAt: (id: number) => number,
  textAt: (id: number) => number,
): { positionOffsets: Int32Array; positions: Int32Array } {
  const at: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  alias.forEach((node, t) => {
    at[node].add(t);
    for (const c of h.image[t]) at[imageAt(c)].add(t);
    for (const c of h.text[t]) at[textAt(c)].add(t);
  });
  const positionOffsets = new Int32Array(n + 1);
  at.forEach((s, k) => (positionOffsets[k + 1] = positionOffsets[k] + s.size));
  return { positionOffsets, positions: Int32Array.from(at.flatMap((s) => [...s].sort((a, b) => a - b))) };
}
