/** Model bundles: export, load without the run or the dataset, and refusal of bad bundles. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  BUNDLE_FORMAT_VERSION,
  BundleError,
  exportBundle,
  loadBundle,
  loadBundleAsync,
  readBundleImage,
} from '../src/serve/bundle.js';
import { inferenceBatch } from '../src/models/batch.js';
import { decodeSafetensors, encodeSafetensors } from '../src/engine/io/safetensors.js';
import { NoDrawRng } from '../src/engine/rng.js';
import { createModel } from '../src/train/create-model.js';
import { loadRun } from '../src/train/trainer.js';
import { serveFixture } from './serve-fixture.js';

const fixture = serveFixture('bundle');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

test('a loaded bundle scores exactly as the run it came from, and carries its catalog, checksum and metrics', async () => {
  const f = await fixture;
  for (const kind of ['cammsr', 'sasrec', 'popularity'] as const) {
    const run = loadRun(f.runs[kind]);
    const b = loadBundle(f.bundles[kind]);
    const histories = [Int32Array.of(1, 2, 3), Int32Array.of(5), Int32Array.of(7, 8, 9, 10, 11)];
    const batch = inferenceBatch(histories, run.model.maxLen);
    assert.deepEqual(b.model.scoreLast(batch), run.model.scoreLast(batch), kind);
    assert.equal(b.manifest.formatVersion, BUNDLE_FORMAT_VERSION);
    assert.equal(b.manifest.model, kind);
    assert.equal(b.manifest.dataset.checksum, run.ds.manifest.checksum);
    assert.equal(b.catalog.size, run.ds.items);
    assert.equal(b.catalog.item(5).id, run.ds.content.items[4].id);
    assert.equal(b.catalog.item(5).title, run.ds.content.items[4].title);
    assert.equal(b.catalog.indexOf(run.ds.content.items[9].id), 10);
    const metrics = JSON.parse(readFileSync(join(f.runs[kind], 'metrics.json'), 'utf8'));
    assert.equal(b.manifest.metrics?.test['NDCG@10'], metrics.test['NDCG@10']);
    assert.equal(existsSync(join(f.bundles[kind], 'weights.safetensors')), kind !== 'popularity');
    // Images travel with the bundle (checksummed like every file); CAMMSR's insights too.
    const i = run.ds.content.items.findIndex((it) => it.image);
    const image = await readBundleImage(b, i + 1);
    assert.ok(i >= 0 && image);
    assert.deepEqual(image.bytes, readFileSync(run.ds.imagePath(i + 1)!));
    assert.ok(`images/${b.catalog.item(i + 1).image}` in b.manifest.files);
    if (kind === 'cammsr') assert.ok(b.insights.categoryWeights.some((c) => c && c.positions > 0));
    else assert.deepEqual(b.insights.categoryWeights, []);
  }
});

test('a bundle needs neither the run nor the dataset', async () => {
  const f = await fixture;
  const copy = join(f.root, 'moved-bundle');
  cpSync(f.bundles.cammsr, copy, { recursive: true });
  const before = loadBundle(copy).model.scoreLast(inferenceBatch([Int32Array.of(1, 2, 3)], 12));
  renameSync(f.data, `${f.data}-away`);
  renameSync(f.runs.cammsr, `${f.runs.cammsr}-away`);
  try {
    const b = loadBundle(copy);
    assert.deepEqual(b.model.scoreLast(inferenceBatch([Int32Array.of(1, 2, 3)], 12)), before);
  } finally {
    renameSync(`${f.data}-away`, f.data);
    renameSync(`${f.runs.cammsr}-away`, f.runs.cammsr);
  }
});

/** A copy of the cammsr bundle, changed by `damage`; the original is never touched. */
async function damaged(name: string, damage: (dir: string) => void): Promise<string> {
  const f = await fixture;
  const dir = join(f.root, `damaged-${name}`);
  cpSync(f.bundles.cammsr, dir, { recursive: true });
  damage(dir);
  return dir;
}

/** Rewrites one tensor of items.safetensors (a consistent bundle with bad item data). */
function rewriteItemTensor(dir: string, name: string, change: (data: Float32Array) => void): void {
  const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, 'items.safetensors')));
  change(tensors.get(name)!.data);
  rewrite(dir, 'items.safetensors', encodeSafetensors(Object.fromEntries(tensors), metadata));
}

/** Rewrites a file and records its new checksum in the manifest (a consistent but bad bundle). */
function rewrite(dir: string, file: string, text: string | Uint8Array): void {
  writeFileSync(join(dir, file), text);
  const m = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8'));
  m.files[file] = sha256(text);
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(m));
}

test('corrupt, incomplete or incompatible bundles are refused with a message naming the file', async () => {
  const f = await fixture;
  const cases: [string, (dir: string) => void, RegExp][] = [
    [
      'flipped-weight-byte',
      (d) => {
        const p = join(d, 'weights.safetensors');
        const b = readFileSync(p);
        b[b.length - 3] ^= 0xff;
        writeFileSync(p, b);
      },
      /weights\.safetensors is corrupt: its sha256 differs/,
    ],
    [
      // Found unreadable while the weights stream into the model: refused as corrupt all the same.
      'flipped-weight-header-byte',
      (d) => {
        const p = join(d, 'weights.safetensors');
        const b = readFileSync(p);
        b[9] ^= 0xff;
        writeFileSync(p, b);
      },
      /weights\.safetensors is corrupt: its sha256 differs/,
    ],
    ['missing-catalog', (d) => rmSync(join(d, 'catalog.jsonl')), /catalog\.jsonl is missing/],
    [
      'changed-image',
      (d) => {
        const img = readdirSync(join(d, 'images'))[0];
        writeFileSync(join(d, 'images', img), 'not the image');
      },
      /images\/.* is corrupt: its sha256 differs/,
    ],
    ['no-manifest', (d) => rmSync(join(d, 'bundle.json')), /is not a cammsr bundle: bundle\.json is missing/],
    [
      'manifest-not-json',
      (d) => writeFileSync(join(d, 'bundle.json'), '{"format": '),
      /bundle\.json: not valid JSON/,
    ],
    [
      'newer-format',
      (d) => {
        const m = JSON.parse(readFileSync(join(d, 'bundle.json'), 'utf8'));
        writeFileSync(
          join(d, 'bundle.json'),
          JSON.stringify({ ...m, formatVersion: 99, cammsrVersion: '9.0.0' }),
        );
      },
      /bundle format version 99 is not supported: this cammsr \(.*\) reads versions 1\.\.1; the bundle was made by cammsr 9\.0\.0/,
    ],
    [
      'other-format',
      (d) => writeFileSync(join(d, 'bundle.json'), JSON.stringify({ format: 'something-else' })),
      /not a cammsr bundle manifest \(format "something-else"\)/,
    ],
    [
      'label-beyond-categories',
      (d) => rewriteItemTensor(d, 'categories.labels', (l) => (l[l.length - 1] = 1e6)),
      /items\.safetensors: category labels do not match their offsets or the \d+ categories/,
    ],
    [
      'fractional-offset',
      (d) => rewriteItemTensor(d, 'categories.offsets', (o) => (o[3] += 0.5)),
      /items\.safetensors: tensor "categories\.offsets" must hold non-negative integers/,
    ],
    [
      'catalog-bad-line',
      (d) => rewrite(d, 'catalog.jsonl', '{"id":"a"}\n{oops\n'),
      /catalog\.jsonl, line 2:/,
    ],
    [
      'catalog-short',
      (d) => rewrite(d, 'catalog.jsonl', '{"id":"a"}\n'),
      /catalog\.jsonl: 1 items, the manifest says 48/,
    ],
    [
      'config-invalid',
      (d) => {
        const c = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
        rewrite(d, 'config.json', JSON.stringify({ ...c, dim: -4 }));
      },
      /config\.json: .*dim/,
    ],
    [
      'weights-other-model',
      (d) => {
        cpSync(join(f.bundles.sasrec, 'weights.safetensors'), join(d, 'weights.safetensors'));
        const m = JSON.parse(readFileSync(join(d, 'bundle.json'), 'utf8'));
        m.files['weights.safetensors'] = sha256(readFileSync(join(d, 'weights.safetensors')));
        writeFileSync(join(d, 'bundle.json'), JSON.stringify(m));
      },
      /weights\.safetensors: parameters do not match the model/,
    ],
  ];
  for (const [name, damage, message] of cases) {
    const dir = await damaged(name, damage);
    const refused = (e: Error) => e instanceof BundleError && message.test(e.message);
    // An image is checked when it is served (a catalog's images are many files), the rest at load.
    if (name === 'changed-image') {
      const b = await loadBundleAsync(dir);
      const i =
        1 +
        b.catalog.ids().findIndex((_, k) => {
          const name = b.catalog.item(k + 1).image;
          return name !== undefined && readFileSync(join(dir, 'images', name), 'utf8') === 'not the image';
        });
      await assert.rejects(readBundleImage(b, i), refused, name);
      continue;
    }
    assert.throws(() => loadBundle(dir), refused, name);
    await assert.rejects(loadBundleAsync(dir), refused, `${name} (async)`);
  }
  // The original is intact.
  assert.ok(loadBundle(f.bundles.cammsr).model);
});

test('export refuses to overwrite unless forced, and a failed export leaves the old bundle and no staging folder', async () => {
  const f = await fixture;
  const out = join(f.root, 'export-target');
  exportBundle(f.runs.sasrec, out);
  assert.throws(() => exportBundle(f.runs.sasrec, out), /already exists; remove it or pass --force/);
  exportBundle(f.runs.cammsr, out, { force: true });
  assert.equal(loadBundle(out).manifest.model, 'cammsr');
  assert.throws(
    () => exportBundle(join(f.root, 'no-such-run'), out, { force: true }),
    /run directory .*no-such-run does not exist/,
  );
  assert.equal(loadBundle(out).manifest.model, 'cammsr');
  // No staging (.<name>.tmp-*) or replaced (<name>.old-*) folder is left behind.
  assert.deepEqual(
    readdirSync(f.root).filter((n) => n.includes('.tmp-') || n.includes('.old-')),
    [],
  );
});

test('a model built to load weights draws nothing (its initial parameters do not depend on the seed); the async load scores as the synchronous one', async () => {
  const f = await fixture;
  for (const kind of ['cammsr', 'sasrec'] as const) {
    const a = loadBundle(f.bundles[kind]);
    // Nothing is drawn: the parameters do not depend on the seed (constants like norm gains stay).
    for (const loadsWeights of [true, false]) {
      const [m1, m2] = [1, 2].map((seed) => createModel({ ...a.config, seed }, a.data, { loadsWeights }));
      const same = m1.parameters().every((p, i) => p.data.every((x, j) => x === m2.parameters()[i].data[j]));
      assert.equal(same, loadsWeights, `${kind}, loadsWeights ${loadsWeights}`);
    }
    // The async load, as a service does it, gives the same scores as the synchronous one.
    const b = await loadBundleAsync(f.bundles[kind]);
    const batch = inferenceBatch([Int32Array.of(1, 2, 3), Int32Array.of(7)], a.model.maxLen);
    assert.deepEqual(b.model.scoreLast(batch), a.model.scoreLast(batch), kind);
  }
  const rng = new NoDrawRng();
  assert.deepEqual([rng.normal(), rng.uniform(), rng.nextU32(), rng.int(10)], [0, 0.5, 0, 5]);
});
