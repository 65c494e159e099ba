/**
 * Running the README's commands in a test: each must succeed (or, for a download, be refused
 * by its checksum) and a `serve` line must answer a request. Shared by the tests that run the
 * README's shell blocks.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStep, type ReadmeStep, type StepResult } from '../bench/readme-steps.js';
import { catalogEntry } from '../src/data/download/catalog.js';
import { readManifest } from '../src/serve/bundle.js';
import { fileServer } from './file-server.js';

/** The value the line gives `flag`, which it must give. */
export function flagValue(step: ReadmeStep, flag: string): string {
  const at = step.args.indexOf(flag);
  assert.ok(at >= 0 && at + 1 < step.args.length, `${step.line}: no ${flag} value`);
  return step.args[at + 1];
}

/**
 * Runs the line (or `args`, the line with a test's additions), asserts it exits 0 and that it
 * produced what it should (`assertProduced`).
 */
export async function runOk(
  step: ReadmeStep,
  cwd: string,
  env: Record<string, string> = {},
  args = step.args,
): Promise<StepResult> {
  const r = await runStep(args, cwd, env);
  assert.equal(r.status, 0, `${step.line}\n${r.stderr}`);
  assertProduced(step, r, cwd);
  return r;
}

/** What a command that succeeded leaves behind: the files it names, the output it prints. */
function assertProduced(step: ReadmeStep, r: StepResult, cwd: string): void {
  const out = () => join(cwd, flagValue(step, '--out'));
  const says = (pattern: RegExp) => assert.match(r.stdout, pattern, step.line);
  switch (step.args[0]) {
    case 'download': // --list: the catalogue and where it keeps files
      says(/^movielens-100k\s/m);
      return says(/^cache folder: /m);
    case 'prepare':
      assert.ok(existsSync(join(out(), 'manifest.json')), `${step.line}: a dataset in --out`);
      return says(/^prepared \S+ in [\d.]+ s$/m);
    case 'stats':
      return says(/^users\s+\d+$/m);
    case 'train':
      assert.ok(existsSync(join(out(), 'metrics.json')), `${step.line}: a run in --out`);
      return says(/: best epoch \d+ of \d+/);
    case 'eval':
      says(/\bNDCG@10\b/);
      return says(step.args.includes('--mask-history') ? /history masked/ : /history not masked/);
    case 'recommend': {
      for (const id of flagValue(step, '--history').split(','))
        says(new RegExp(`^\\s*\\d+\\s+${id}\\s`, 'm'));
      const ranking = r.stdout.split(/^rank\s.*\n[- ]+\n/m)[1] ?? '';
      const k = step.args.includes('-k') ? Number(flagValue(step, '-k')) : 10;
      return assert.equal(ranking.trim().split('\n').length, k, `${step.line}: ${k} items`);
    }
    case 'report':
      assert.match(readFileSync(out(), 'utf8'), /^<!DOCTYPE html>/i, `${step.line}: an HTML file`);
      return says(/^wrote \S+ \(\d+ KiB, self-contained\)$/m);
    case 'export':
      assert.ok(readManifest(out()).model, `${step.line}: a bundle in --out`);
      return says(/^bundle\s/m);
    default:
      assert.fail(`${step.line}: no check of what \`${step.args[0]}\` produces`);
  }
}

/**
 * A `train` line without an epoch budget gets `--set train.epochs=2`: a budget only (the
 * command is otherwise as written), since training to early stopping takes minutes.
 */
export function withEpochBudget(args: string[]): string[] {
  return args.some((a) => a.startsWith('train.epochs=')) ? args : [...args, '--set', 'train.epochs=2'];
}

/**
 * Runs a `download <name>` line against a file server on loopback (the mirror hook) that
 * serves another file than the dataset's: the command must fetch it and refuse it by its
 * pinned sha256. What it would have extracted is then for the test to write.
 */
export async function refusedDownload(
  step: ReadmeStep,
  cwd: string,
  env: Record<string, string> = {},
): Promise<void> {
  const served = catalogEntry(step.args[1])!.files[0].fileName;
  const server = await fileServer({ [served]: { body: Buffer.from('not the published file') } });
  try {
    const r = await runStep(step.args, cwd, { ...env, CAMMSR_DOWNLOAD_BASE_URL: server.url });
    assert.equal(r.status, 1, `${step.line}\n${r.stdout}`);
    assert.match(r.stderr, /sha256/);
    assert.deepEqual(
      server.requests.map((q) => q.path),
      [served],
      'the download asked the mirror for the file',
    );
  } finally {
    await server.close();
  }
}

/**
 * Runs a `serve` line on a free port (not the line's 8080, which may be taken) without the
 * request log, until it listens; asks it for `k` recommendations after `history`, then stops it.
 */
export async function serveOnce(step: ReadmeStep, cwd: string, history: string[], k = 3): Promise<void> {
  const port = step.args.indexOf('--port');
  const args = port < 0 ? [...step.args] : [...step.args.slice(0, port), ...step.args.slice(port + 2)];
  let answered = false;
  const r = await runStep([...args, '--port', '0', '--quiet'], cwd, {}, async (url) => {
    const res = await fetch(`${url}/v1/recommendations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ history, k }),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { items: unknown[] }).items.length, k);
    answered = true;
  });
  assert.ok(answered, `${step.line}: the service answered (${r.stderr})`);
}
