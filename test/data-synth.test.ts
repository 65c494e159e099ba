/**
 * The synthetic dataset: determinism (interactions, texts, PNG bytes), sizes and ranges, and
 * that the planted structure is really there, measured with simple statistics that know
 * nothing of the generator's latents: word overlap of texts, colour histograms of the PNGs
 * and the repeat rate of item-to-item transitions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../src/engine/rng.js';
import { synthesize, type Modality, type PlantedStructure } from '../src/data/importers/synth.js';
import type { RawDataset } from '../src/data/types.js';
import { tempDir } from './temp.js';

const root = tempDir('synth');

// The default-size dataset, generated once and shared by the tests below.
let defaultRun: Promise<{ raw: RawDataset; planted: PlantedStructure; seconds: number }> | null = null;
function defaultDataset(): Promise<{ raw: RawDataset; planted: PlantedStructure; seconds: number }> {
  defaultRun ??= (async () => {
    const t0 = performance.now();
    const r = await synthesize({ imagesDir: join(root, 'default') });
    return { ...r, seconds: (performance.now() - t0) / 1000 };
  })();
  return defaultRun;
}

function pngBytes(raw: RawDataset): Buffer[] {
  return [...raw.items.values()].map((r) => readFileSync(r.image!));
}

test('synth: the same seed gives identical interactions, texts and PNG bytes; another seed differs', async () => {
  const small = { users: 300, items: 200 };
  const a = await synthesize({ ...small, seed: 7, imagesDir: join(root, 'a') });
  const b = await synthesize({ ...small, seed: 7, imagesDir: join(root, 'b'), concurrency: 3 });
  const c = await synthesize({ ...small, seed: 8, imagesDir: join(root, 'c') });
  const stripImage = (raw: RawDataset) => [...raw.items].map(([id, r]) => [id, { ...r, image: undefined }]);
  assert.deepEqual(a.raw.interactions, b.raw.interactions);
  assert.deepEqual(stripImage(a.raw), stripImage(b.raw));
  assert.deepEqual(a.planted, b.planted);
  const pa = pngBytes(a.raw);
  const pb = pngBytes(b.raw);
  const pc = pngBytes(c.raw);
  for (let k = 0; k < pa.length; k++) assert.ok(pa[k].equals(pb[k]), `PNG ${k} differs between equal seeds`);

  assert.notDeepEqual(a.raw.interactions.item, c.raw.interactions.item);
  const titlesA = [...a.raw.items.values()].map((r) => r.title);
  const titlesC = [...c.raw.items.values()].map((r) => r.title);
  assert.ok(titlesA.filter((t, k) => t !== titlesC[k]).length > 0.9 * titlesA.length);
  assert.ok(pa.filter((p, k) => !p.equals(pc[k])).length > 0.9 * pa.length);

  // The catalog (texts and images) does not depend on the number of users.
  const d = await synthesize({ users: 40, items: 200, seed: 7, imagesDir: join(root, 'd') });
  assert.deepEqual(stripImage(d.raw), stripImage(a.raw));
  const pd = pngBytes(d.raw);
  for (let k = 0; k < pa.length; k++) assert.ok(pa[k].equals(pd[k]), `PNG ${k} depends on the user count`);
});

test('synth: default size is fast and has the right sizes, ids, ranges and images', async (t) => {
  const { raw, planted, seconds } = await defaultDataset();
  t.diagnostic(`default size (2000 users, 1000 items, 64px PNGs) generated in ${seconds.toFixed(2)} s`);
  assert.ok(seconds < 20, `generation took ${seconds} s`);
  const ia = raw.interactions;
  assert.equal(raw.name, 'synth');
  assert.equal(raw.categoryPaths, false);
  assert.equal(ia.userIds.length, 2000);
  assert.equal(ia.userIds[0], 'u0001');
  assert.equal(raw.items.size, 1000);
  assert.ok(raw.items.has('i0001') && raw.items.has('i1000'));
  const n = ia.user.length;
  assert.ok(ia.item.length === n && ia.time!.length === n);
  assert.deepEqual(raw.skips, { records: n, skipped: 0, reasons: {}, examples: [] });
  const perUser = n / 2000;
  t.diagnostic(`${n} interactions, ${perUser.toFixed(1)} per user, ${ia.itemIds.length} items occur`);
  assert.ok(perUser > 10 && perUser < 20);
  assert.ok(ia.itemIds.length > 950);
  for (const id of ia.itemIds) assert.ok(raw.items.has(id), `${id} has no catalog record`);

  // rows: user-major, time strictly increasing per user, no repeated item per user, >= 5 each
  const counts = new Int32Array(2000);
  let seen = new Set<number>();
  for (let r = 0; r < n; r++) {
    assert.ok(ia.user[r] >= 0 && ia.user[r] < 2000);
    assert.ok(ia.item[r] >= 0 && ia.item[r] < ia.itemIds.length);
    assert.ok(Number.isInteger(ia.time![r]) && ia.time![r] >= 1609459200 && ia.time![r] < 1.8e9);
    if (r > 0 && ia.user[r] === ia.user[r - 1]) {
      assert.ok(ia.time![r] > ia.time![r - 1], `time does not increase at row ${r}`);
    } else {
      if (r > 0) assert.ok(ia.user[r] > ia.user[r - 1], 'rows are not user-major');
      seen = new Set();
    }
    assert.ok(!seen.has(ia.item[r]), `user ${ia.user[r]} repeats an item`);
    seen.add(ia.item[r]);
    counts[ia.user[r]]++;
  }
  assert.ok(counts.every((c) => c >= 5 && c <= 200));

  // texts, labels and the planted categories
  const cats = new Set(planted.categories);
  assert.equal(cats.size, 8);
  assert.deepEqual(
    new Set(Object.values(planted.drivingModality)),
    new Set<Modality>(['id', 'text', 'image']),
  );
  let multi = 0;
  for (const [id, r] of raw.items) {
    const tw = r.title!.split(' ').length;
    const dw = r.description!.split(' ').length;
    assert.ok(tw >= 3 && tw <= 6 && dw >= 10 && dw <= 30, `${id}: ${tw} title / ${dw} description words`);
    assert.ok(r.categories!.length >= 1 && r.categories!.every((p) => p.length === 1 && cats.has(p[0])));
    assert.equal(r.categories![0][0], planted.items[id].category);
    if (r.categories!.length > 1) multi++;
    assert.ok(r.image!.endsWith(`${id}.png`) && r.image!.startsWith('/'));
  }
  assert.ok(multi > 50 && multi < 150, `${multi} items with two labels`);
  const t0 = planted.transitions;
  t.diagnostic(
    `within-session steps ${t0.withinSession}: followed ${t0.followed}, random ${t0.random}, fallback ${t0.fallback}`,
  );
  assert.ok(Math.abs(t0.random / t0.withinSession - planted.noise) < 0.03);

  // every PNG decodes to 64x64 RGB
  await Promise.all(
    [...raw.items.values()].map(async (r) => {
      const m = await sharp(r.image!).metadata();
      assert.equal(m.format, 'png');
      assert.equal(m.width, 64);
      assert.equal(m.height, 64);
      assert.equal(m.channels, 3);
    }),
  );
});

/** A mean with its standard error. */
interface Estimate {
  mean: number;
  se: number;
}

/** Per-category statistics of within-session consecutive pairs against permuted pairs. */
interface CategoryStats {
  category: string;
  driving: Modality;
  pairs: number;
  jaccard: Estimate;
  jaccardRandom: number;
  histDist: Estimate;
  histDistRandom: number;
  repeat: number;
  repeatChance: number;
}

function words(s: string): Set<string> {
  return new Set(s.toLowerCase().match(/[a-z]+/g) ?? []);
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let inter = 0;
  for (const w of a) if (b.has(w)) inter++;
  return inter / (a.size + b.size - inter);
}

/**
 * 64-bin colour histogram (4 levels per channel, centres 0, 85, 170, 255), normalised to sum 1.
 * Soft (trilinear) binning: with hard bins a few levels of jitter move whole colours across
 * a bin edge, and the distance then measures the edges rather than the colours.
 */
async function histogram(file: string): Promise<Float64Array> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const h = new Float64Array(64);
  const lo = [0, 0, 0];
  const w = [0, 0, 0]; // weight of the upper bin
  for (let o = 0; o < data.length; o += info.channels) {
    for (let ch = 0; ch < 3; ch++) {
      const x = data[o + ch] / 85;
      lo[ch] = Math.min(2, Math.floor(x));
      w[ch] = x - lo[ch];
    }
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < 2; b++)
        for (let c = 0; c < 2; c++) {
          const wt = (a ? w[0] : 1 - w[0]) * (b ? w[1] : 1 - w[1]) * (c ? w[2] : 1 - w[2]);
          h[((lo[0] + a) << 4) | ((lo[1] + b) << 2) | (lo[2] + c)] += wt;
        }
  }
  const total = data.length / info.channels;
  for (let k = 0; k < 64; k++) h[k] /= total;
  return h;
}

function l1(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += Math.abs(a[k] - b[k]);
  return s;
}

async function measure(raw: RawDataset, planted: PlantedStructure): Promise<CategoryStats[]> {
  const ia = raw.interactions;
  const ids = ia.itemIds;
  const primary = ids.map((id) => raw.items.get(id)!.categories![0][0]);
  const text = ids.map((id) => words(`${raw.items.get(id)!.title} ${raw.items.get(id)!.description}`));
  const hist = await Promise.all(ids.map((id) => histogram(raw.items.get(id)!.image!)));
  const rng = new Rng(99);
  const out: CategoryStats[] = [];
  for (const cat of planted.categories) {
    // consecutive rows of one user, same category, less than an hour apart (= one session)
    const from: number[] = [];
    const to: number[] = [];
    for (let r = 1; r < ia.user.length; r++) {
      if (ia.user[r] !== ia.user[r - 1] || ia.time![r] - ia.time![r - 1] >= 3600) continue;
      if (primary[ia.item[r]] !== cat || primary[ia.item[r - 1]] !== cat) continue;
      from.push(ia.item[r - 1]);
      to.push(ia.item[r]);
    }
    /**
     * Mean of f over the pairs (a != b), with a standard error clustered by distinct pair:
     * in ID-driven categories the same ~100 successor links repeat thousands of times, so
     * the pairs are far from independent.
     */
    const estimate = (
      f: (a: number, b: number) => number,
      a: ArrayLike<number>,
      b: ArrayLike<number>,
    ): Estimate => {
      const byPair = new Map<number, { n: number; v: number }>();
      let s = 0;
      let m = 0;
      for (let k = 0; k < a.length; k++) {
        if (a[k] === b[k]) continue;
        const key = a[k] * ids.length + b[k];
        let e = byPair.get(key);
        if (!e) byPair.set(key, (e = { n: 0, v: f(a[k], b[k]) }));
        e.n++;
        s += e.v;
        m++;
      }
      const mean = s / m;
      let v = 0;
      for (const e of byPair.values()) v += (e.n * (e.v - mean)) ** 2;
      return { mean, se: Math.sqrt(v) / m };
    };
    const jac = (a: number, b: number): number => jaccard(text[a], text[b]);
    const hd = (a: number, b: number): number => l1(hist[a], hist[b]);
    // random pairs with the same item frequencies: the successors permuted (3 permutations)
    let jr = 0;
    let hr = 0;
    for (let p = 0; p < 3; p++) {
      const perm = Int32Array.from(to);
      rng.shuffle(perm);
      jr += estimate(jac, from, perm).mean / 3;
      hr += estimate(hd, from, perm).mean / 3;
    }
    // repeat rate: the probability that two transitions out of the same item go to the same item
    const out2 = new Map<number, Map<number, number>>();
    for (let k = 0; k < from.length; k++) {
      const m = out2.get(from[k]) ?? new Map<number, number>();
      m.set(to[k], (m.get(to[k]) ?? 0) + 1);
      out2.set(from[k], m);
    }
    let same = 0;
    let all = 0;
    for (const m of out2.values()) {
      let na = 0;
      for (const c of m.values()) {
        same += c * (c - 1);
        na += c;
      }
      all += na * (na - 1);
    }
    const catSize = Object.values(planted.items).filter((p) => p.category === cat).length;
    out.push({
      category: cat,
      driving: planted.drivingModality[cat],
      pairs: from.length,
      jaccard: estimate(jac, from, to),
      jaccardRandom: jr,
      histDist: estimate(hd, from, to),
      histDistRandom: hr,
      repeat: same / all,
      repeatChance: 1 / (catSize - 1),
    });
  }
  return out;
}

test('synth: the planted structure is detectable with simple statistics', async (t) => {
  const { raw, planted } = await defaultDataset();
  const stats = await measure(raw, planted);
  const f = (x: number): string => x.toFixed(3);
  // z: (consecutive - random) / standard error; "at chance" means |z| small
  const z = (e: Estimate, random: number): number => (e.mean - random) / e.se;
  t.diagnostic(
    'category     driving pairs  jaccard cons/rand (z)     colour L1 cons/rand (z)   repeat cons/chance',
  );
  for (const s of stats) {
    t.diagnostic(
      `${s.category.padEnd(12)} ${s.driving.padEnd(7)} ${String(s.pairs).padStart(5)}  ` +
        `${f(s.jaccard.mean)} / ${f(s.jaccardRandom)} (${z(s.jaccard, s.jaccardRandom).toFixed(1).padStart(5)})  ` +
        `${f(s.histDist.mean)} / ${f(s.histDistRandom)} (${z(s.histDist, s.histDistRandom).toFixed(1).padStart(5)})  ` +
        `${f(s.repeat)} / ${f(s.repeatChance)}`,
    );
  }
  for (const s of stats) {
    const jr = s.jaccard.mean / s.jaccardRandom;
    const hr = s.histDist.mean / s.histDistRandom;
    const jz = z(s.jaccard, s.jaccardRandom);
    const hz = z(s.histDist, s.histDistRandom);
    const where =
      `${s.category} (${s.driving}): jaccard ratio ${f(jr)} z ${jz.toFixed(1)}, ` +
      `colour ratio ${f(hr)} z ${hz.toFixed(1)}, repeat ${f(s.repeat)}`;
    // a non-driving modality is at chance: within 4.5 standard errors (and 25% as a sanity bound)
    const atChance = (ratio: number, zz: number): boolean => Math.abs(zz) < 4.5 && Math.abs(ratio - 1) < 0.25;
    assert.ok(s.pairs > 1000, where);
    if (s.driving === 'text') {
      assert.ok(jr > 1.6 && jz > 20, where); // consecutive texts share the topic vocabulary
      assert.ok(atChance(hr, hz), where); // images are not closer than random
      assert.ok(s.repeat < 0.15, where);
    } else if (s.driving === 'image') {
      assert.ok(hr < 0.6 && hz < -20, where); // consecutive images share the visual style
      assert.ok(atChance(jr, jz), where); // texts are not closer than random
      assert.ok(s.repeat < 0.15, where);
    } else {
      assert.ok(s.repeat > 0.5 && s.repeat > 40 * s.repeatChance, where); // fixed successors
      assert.ok(atChance(jr, jz), where); // content is at chance
      assert.ok(atChance(hr, hz), where);
    }
  }
});

test("synth: categoryCues 'all' puts the category into every title and image band", async () => {
  const { raw, planted } = await synthesize({
    users: 30,
    items: 100,
    categoryCues: 'all',
    imagesDir: join(root, 'e'),
  });
  assert.equal(planted.categoryCues, 'all');
  for (const [id, r] of raw.items) {
    assert.ok(r.title!.endsWith(` ${planted.items[id].category}`), r.title);
  }
  // the top rows of two items of one category have the same colour (up to pixel noise)
  const byCat = new Map<string, string[]>();
  for (const [id, p] of Object.entries(planted.items))
    byCat.set(p.category, [...(byCat.get(p.category) ?? []), id]);
  const [x, y] = byCat.get(planted.categories[0])!;
  const top = async (id: string): Promise<number[]> => {
    const { data } = await sharp(raw.items.get(id)!.image!)
      .extract({ left: 0, top: 0, width: 64, height: 4 })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const m = [0, 0, 0];
    for (let o = 0; o < data.length; o += 3)
      for (let ch = 0; ch < 3; ch++) m[ch] += data[o + ch] / (data.length / 3);
    return m;
  };
  const [mx, my] = [await top(x), await top(y)];
  for (let ch = 0; ch < 3; ch++) assert.ok(Math.abs(mx[ch] - my[ch]) < 6, `${mx} vs ${my}`);
});

test('synth: bad options are rejected with a message', async () => {
  const imagesDir = join(root, 'bad');
  await assert.rejects(synthesize({ items: 10, imagesDir }), /items must be an integer/);
  await assert.rejects(synthesize({ noise: 1.5, imagesDir }), /noise must be in \[0, 1\]/);
  await assert.rejects(synthesize({ categories: 40, imagesDir }), /categories must be an integer/);
  await assert.rejects(synthesize({ users: 2.5, imagesDir }), /users must be an integer/);
});
