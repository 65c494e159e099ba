/** MMSR's per-sample graph: golden cases of the edge rules (the peers' spec, section 1). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildSampleGraph,
  EDGE,
  NODE_IMAGE,
  NODE_ITEM,
  NODE_TEXT,
  type SampleGraph,
} from '../src/models/mmsr-graph.js';

/** The graph as "from→to: relation" over node ids (types as i/v/t), independent of node order. */
function relations(g: SampleGraph): Record<string, number> {
  const n = g.nodes.length;
  const name = (k: number) => `${'?ivt'[g.types[k]]}${g.nodes[k]}`;
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      if (g.adj[i * n + j] !== 0 && i !== j) out[`${name(i)}>${name(j)}`] = g.adj[i * n + j];
  return out;
}

const positionsOf = (g: SampleGraph, k: number) =>
  Array.from(g.positions.subarray(g.positionOffsets[k], g.positionOffsets[k + 1]));

test('nodes: distinct items, then image clusters, then text clusters, each ascending; self-loops; alias', () => {
  const g = buildSampleGraph({
    items: Int32Array.of(9, 4, 9),
    image: [[101], [100], [101]],
    text: [[200], [], [200]],
  });
  assert.deepEqual(Array.from(g.nodes), [4, 9, 100, 101, 200]);
  assert.deepEqual(Array.from(g.types), [NODE_ITEM, NODE_ITEM, NODE_IMAGE, NODE_IMAGE, NODE_TEXT]);
  assert.deepEqual(Array.from(g.alias), [1, 0, 1]);
  for (let k = 0; k < 5; k++) assert.equal(g.adj[k * 5 + k], EDGE.self);
  // Where each node occurs: item 9 at 0 and 2, cluster 101 with it, text cluster 200 likewise.
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((k) => positionsOf(g, k)),
    [[1], [0, 2], [1], [0, 2], [0, 2]],
  );
});

test('A -> B -> A: a transition both ways (4); content edges 5-10 between an item and its clusters', () => {
  const g = buildSampleGraph({
    items: Int32Array.of(1, 2, 1),
    image: [[10], [11], [10]],
    text: [[20], [21], [20]],
  });
  assert.deepEqual(relations(g), {
    'i1>i2': EDGE.both,
    'i2>i1': EDGE.both,
    'v10>v11': EDGE.both,
    'v11>v10': EDGE.both,
    't20>t21': EDGE.both,
    't21>t20': EDGE.both,
    'i1>v10': EDGE.itemToImage,
    'v10>i1': EDGE.imageToItem,
    'i2>v11': EDGE.itemToImage,
    'v11>i2': EDGE.imageToItem,
    'i1>t20': EDGE.itemToText,
    't20>i1': EDGE.textToItem,
    'i2>t21': EDGE.itemToText,
    't21>i2': EDGE.textToItem,
    'v10>t20': EDGE.imageToText,
    't20>v10': EDGE.textToImage,
    'v11>t21': EDGE.imageToText,
    't21>v11': EDGE.textToImage,
  });
});

test('repeats: a step between the same item adds nothing, and (strict) skips its clusters too', () => {
  const h = { items: Int32Array.of(3, 3, 5), image: [[30], [31], [32]], text: [[], [], []] };
  const strict = relations(buildSampleGraph(h));
  assert.equal(strict['v30>v31'], undefined, 'the step 3 -> 3 is skipped with its clusters');
  assert.equal(strict['i3>i5'], EDGE.out);
  assert.equal(strict['i5>i3'], EDGE.in);
  assert.equal(strict['v31>v32'], EDGE.out);
  const loose = relations(buildSampleGraph(h, false));
  assert.equal(loose['v30>v31'], EDGE.out, 'without strictEdges the clusters still move');
});

test('a pair joined both ways skips a later step between them, clusters included (the code quirk)', () => {
  const h = { items: Int32Array.of(1, 2, 1, 2), image: [[10], [11], [10], [12]], text: [[], [], [], []] };
  const strict = relations(buildSampleGraph(h));
  assert.equal(strict['i1>i2'], EDGE.both);
  assert.equal(strict['v10>v12'], undefined, 'the third step (1 -> 2, already 4) moved no cluster');
  assert.equal(relations(buildSampleGraph(h, false))['v10>v12'], EDGE.out);
});

test('a missing modality: no cluster node and no content edge for that item; shared clusters are one node', () => {
  const g = buildSampleGraph({
    items: Int32Array.of(1, 2, 3),
    image: [[10], [], [10]],
    text: [[20], [21], []],
  });
  assert.deepEqual(Array.from(g.nodes), [1, 2, 3, 10, 20, 21]);
  const r = relations(g);
  assert.ok(!Object.keys(r).some((k) => k.startsWith('i2>v') || k.startsWith('i3>t')));
  assert.equal(r['i1>v10'], EDGE.itemToImage);
  assert.equal(r['i3>v10'], EDGE.itemToImage, 'one cluster node linked to both items');
  assert.equal(r['v10>i3'], EDGE.imageToItem);
  assert.deepEqual(positionsOf(g, 3), [0, 2]);
  // Clusters of consecutive items only: 10 (position 0) has no image at position 1 to move to.
  assert.equal(r['v10>v10'], undefined);
  assert.equal(r['t20>t21'], EDGE.out);
});

test('the graph does not depend on the order of the cluster lists', () => {
  const a = buildSampleGraph({
    items: Int32Array.of(1, 2),
    image: [
      [10, 12],
      [11, 13],
    ],
    text: [[20, 22], [21]],
  });
  const b = buildSampleGraph({
    items: Int32Array.of(1, 2),
    image: [
      [12, 10],
      [13, 11],
    ],
    text: [[22, 20], [21]],
  });
  assert.deepEqual(relations(a), relations(b));
  assert.deepEqual(Array.from(a.nodes), Array.from(b.nodes));
  assert.throws(
    () => buildSampleGraph({ items: Int32Array.of(1, 2), image: [[10]], text: [[], []] }),
    /2 items but 1 image and 2 text lists/,
  );
});
