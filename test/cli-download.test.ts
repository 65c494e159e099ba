/**
 * `cammsr download` as a user runs it, against a file server on 127.0.0.1 through the
 * mirror hook (CAMMSR_DOWNLOAD_BASE_URL): the catalogue table, a checksum mismatch against a
 * real pin, an unpinned dataset refused and then downloaded, and its printed prepare command
 * run as printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileServer } from './file-server.js';
import { tempDir } from './temp.js';
import { zipArchive } from './zip-fixture.js';

const MAIN = resolve('dist/src/cli/main.js');

/** Runs the CLI without blocking this process (the file server answers from here). */
function cli(args: string[], env: Record<string, string> = {}, cwd?: string) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop()!);

test('download --list: a table of the catalogue and, with --json, one JSON object last', async () => {
  const r = await cli(['download', '--list', '--json', '--dir', '/somewhere/cache']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^name\s+what it is\s+size\s+checksum\s+licence terms$/m);
  assert.match(
    r.stdout,
    /^movielens-100k\s+MovieLens 100K.*\s4\.9 MB\s+sha256 pinned\s+research use; no redistribution/m,
  );
  assert.match(r.stdout, /^amazon2018-all-beauty\s.*\s\? \+ \?\s+none published\s/m);
  const j = lastJson(r.stdout);
  assert.equal(j.cacheDir, '/somewhere/cache');
  const ml = j.datasets.find((d: { name: string }) => d.name === 'movielens-1m');
  assert.equal(ml.files[0].url, 'https://files.grouplens.org/datasets/movielens/ml-1m.zip');
  assert.equal(ml.files[0].sha256, 'a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20');
  assert.equal(ml.pinned, true);
});

test('download movielens-100k from a server with another file: the pin catches it and the file is deleted', async () => {
  const fake = zipArchive([{ name: 'ml-100k/u.data', data: '1\t1\t5\t1\n' }]);
  const server = await fileServer({ 'ml-100k.zip': { body: fake } });
  try {
    const cache = tempDir('cli-dl');
    const r = await cli(['download', 'movielens-100k'], {
      CAMMSR_CACHE: cache,
      CAMMSR_DOWNLOAD_BASE_URL: server.url,
    });
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /not the pinned 50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229 \(pinned from TensorFlow Datasets.*\); the file was deleted/,
    );
    assert.deepEqual(readdirSync(join(cache, 'movielens-100k')), []);
  } finally {
    await server.close();
  }
});

test('download an unpinned Amazon category: refused, then fetched with --allow-unpinned; its prepare command works', async () => {
  const reviews: string[] = [];
  const meta: string[] = [];
  for (let i = 1; i <= 6; i++) {
    meta.push(
      JSON.stringify({
        asin: `A${i}`,
        title: `Lipstick ${i}`,
        category: ['All Beauty', i % 2 ? 'Lips' : 'Eyes'],
        main_cat: 'All Beauty',
      }),
    );
    for (let u = 1; u <= 6; u++)
      reviews.push(
        JSON.stringify({
          reviewerID: `U${u}`,
          asin: `A${i}`,
          unixReviewTime: 1_500_000_000 + 1000 * i + u,
          overall: 5,
          verified: true,
        }),
      );
  }
  const server = await fileServer({
    'All_Beauty.json.gz': { body: gzipSync(reviews.join('\n') + '\n') },
    'meta_All_Beauty.json.gz': { body: gzipSync(meta.join('\n') + '\n') },
  });
  try {
    const cache = tempDir('cli-dl-amazon');
    const env = { CAMMSR_DOWNLOAD_BASE_URL: server.url };
    const refused = await cli(['download', 'amazon2018-all-beauty', '--dir', cache], env);
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      /no checksum is published for All_Beauty\.json\.gz and meta_All_Beauty\.json\.gz.*--allow-unpinned/,
    );
    assert.equal(server.requests.length, 0);

    const r = await cli(
      ['download', 'amazon2018-all-beauty', '--dir', cache, '--allow-unpinned', '--json'],
      env,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^All_Beauty\.json\.gz\s+\d+ B\s+downloaded\s+no pin published: compare with another copy\s+[0-9a-f]{64}$/m,
    );
    const dir = join(cache, 'amazon2018-all-beauty');
    const command =
      `cammsr prepare amazon --input ${join(dir, 'All_Beauty.json.gz')} --meta ${join(dir, 'meta_All_Beauty.json.gz')} ` +
      '--amazon-format 2018 --kcore 5 --out amazon2018-all-beauty';
    assert.ok(r.stdout.includes(`import it with:\n  ${command}\n`), r.stdout);
    const j = lastJson(r.stdout);
    assert.equal(j.prepare.command, command);

    // The printed command, run as printed (from a working folder), imports what was downloaded.
    const work = tempDir('cli-dl-work');
    const p = await cli([...j.prepare.args, '--json'], {}, work);
    assert.equal(p.status, 0, p.stderr);
    const stats = lastJson(p.stdout);
    assert.deepEqual([stats.users, stats.items, stats.interactions], [6, 6, 36]);
    assert.ok(existsSync(join(work, 'amazon2018-all-beauty', 'manifest.json')));
  } finally {
    await server.close();
  }
});
