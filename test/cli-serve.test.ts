/** `cammsr export` and `cammsr serve` as a user runs them: a real process, a real port, signals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveFixture } from './serve-fixture.js';

const fixture = serveFixture('cli-serve');
const cli = (args: string[]) =>
  spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8' });

test('cammsr export prints a table and, with --json, the manifest; refuses to overwrite', async () => {
  const f = await fixture;
  const out = join(f.root, 'cli-bundle');
  const r = cli(['export', '--run', f.runs.cammsr, '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /bundle\s+model\s+dataset/);
  const last = JSON.parse(lines[lines.length - 1]);
  assert.equal(last.manifest.model, 'cammsr');
  const again = cli(['export', '--run', f.runs.cammsr, '--out', out]);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /already exists; remove it or pass --force/);
  assert.equal(cli(['export', '--run', f.runs.cammsr, '--out', out, '--force']).status, 0);
});

test('cammsr serve answers HTTP, reloads on SIGHUP and exits cleanly on SIGTERM', async () => {
  const f = await fixture;
  const child = spawn(
    process.execPath,
    [
      'dist/src/cli/main.js',
      'serve',
      '--bundle',
      f.bundles.sasrec,
      '--db',
      `sqlite:${join(f.root, 'cli.db')}`,
      '--port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening address after 20 s:\n${log}`)), 20000);
      const poll = setInterval(() => {
        const m = /cammsr serve: .* at (http:\/\/127\.0\.0\.1:\d+); explorer at /.exec(log);
        if (m) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve(m[1]);
        }
      }, 50);
    });
    assert.match(log, /cammsr serve: .* \(sqlite event store\) at http:\/\/127\.0\.0\.1:\d+; explorer at /);
    const post = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'cli-user', item: 'nope' }),
    });
    assert.equal(post.status, 201);
    const recs = (await (await fetch(`${base}/v1/users/cli-user/recommendations?k=2`)).json()) as {
      model: string;
      items: unknown[];
    };
    assert.equal(recs.model, 'sasrec');
    assert.equal(recs.items.length, 2);
    child.kill('SIGHUP');
    await new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        if (log.includes('bundle reloaded (SIGHUP)')) {
          clearInterval(poll);
          resolve();
        } else if (Date.now() - t0 > 20000) {
          clearInterval(poll);
          reject(new Error(`no reload after SIGHUP:\n${log}`));
        }
      }, 50);
    });
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
  }
});

test('cammsr serve: a bad bundle or --db fails at start with the reason', async () => {
  const f = await fixture;
  let r = cli(['serve', '--bundle', join(f.root, 'nothing-here'), '--db', `sqlite:${join(f.root, 'x.db')}`]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /is not a cammsr bundle: bundle\.json is missing/);
  assert.ok(!existsSync(join(f.root, 'x.db')), 'no event store is created for a folder that is not a bundle');
  r = cli(['serve', '--bundle', f.bundles.sasrec, '--db', 'redis://localhost']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--db must be sqlite:<file> or postgres:\/\//);
  r = cli(['serve', '--bundle', f.bundles.sasrec, '--port', '99999']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--port must be an integer from 0 to 65535/);
  // Another address than loopback without keys: refused before anything is opened.
  r = cli([
    'serve',
    '--bundle',
    f.bundles.sasrec,
    '--host',
    '0.0.0.0',
    '--db',
    `sqlite:${join(f.root, 'open.db')}`,
  ]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without API keys/);
  assert.ok(!existsSync(join(f.root, 'open.db')));
  r = cli(['serve', '--bundle', f.bundles.sasrec, '--keys', join(f.root, 'no-keys.json')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--keys .*no-keys\.json: cannot read it \(ENOENT\)/);
});

test('cammsr serve has the defaults docs/serving.md gives', () => {
  const usage = readFileSync('docs/serving.md', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('`cammsr serve --bundle'))!;
  // "[--port 8080]": a flag and its documented default.
  const documented = [...usage.matchAll(/\[--([a-z-]+) ([^\]\s|<]+)\]/g)].map((m) => [m[1], m[2]]);
  assert.deepEqual(
    documented.map(([flag]) => flag),
    [
      'port',
      'host',
      'max-batch',
      'max-wait-ms',
      'threads',
      'shed-delay-ms',
      'request-deadline-ms',
      'item-table',
    ],
  );
  // Commander's help has one line per option once its indented continuation lines are joined.
  const help = cli(['serve', '--help'])
    .stdout.replace(/\n {3,}/g, ' ')
    .split('\n');
  for (const [flag, value] of documented) {
    const entry = help.find((l) => l.trimStart().startsWith(`--${flag} `)) ?? '';
    assert.ok(
      [`default: ${value})`, `default: "${value}")`, `default ${value}:`].some((d) => entry.includes(d)),
      `--${flag}: docs/serving.md says ${value}, the help says: ${entry}`,
    );
  }
});
