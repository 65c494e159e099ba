/**
 * kill -9 of `cammsr serve` while writers post events with ids, then retries of every request
 * whose reply was lost (bench/serve-durability.ts), against each event store: a few short
 * trials, so that CI holds what `npm run bench:durability` measures at length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { durabilityTrials, type TrialResult } from '../bench/serve-durability.js';
import { serveFixture } from './serve-fixture.js';
import { storeBackends } from './store-backends.js';

const fixture = serveFixture('durability');

for (const b of storeBackends('durability')) {
  test(`${b.name}: kill -9 mid-write, restart, retry with the same ids: every acknowledged event stored once`, async (t) => {
    const f = await fixture;
    const t0 = performance.now();
    // A kill meets requests in flight unless every writer's reply had already arrived (a busy
    // client reads them late): rounds of two trials until one retried something, at most three.
    const trials: TrialResult[] = [];
    for (let round = 0; round < 3 && !trials.some((r) => r.retried > 0); round++)
      trials.push(
        ...(await durabilityTrials({
          bundle: f.bundles.popularity,
          db: await b.freshUrl(),
          trials: 2,
          workers: 4,
          maxBatch: 50,
          killAfterMs: [200, 800],
          seed: 7 + round,
        })),
      );
    t.diagnostic(`${trials.length} trials in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const r of trials) {
      t.diagnostic(JSON.stringify(r));
      const where = `trial ${r.trial}: ${JSON.stringify(r)}`;
      assert.ok(r.acknowledged > 0, where);
      for (const k of [
        'lost',
        'duplicated',
        'partialBatches',
        'miscountedReplies',
        'unacknowledged',
      ] as const)
        assert.equal(r[k], 0, `${k}, ${where}`);
      assert.equal(r.integrity, b.name === 'sqlite' ? 'ok' : 'n/a', where);
    }
    // The kills came with requests in flight, so the retries were exercised.
    assert.ok(
      trials.some((r) => r.retried > 0),
      JSON.stringify(trials),
    );
  });
}
