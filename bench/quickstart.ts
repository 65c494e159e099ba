/**
 * Wall-clock seconds of each line of the README's quick start, run as written in a fresh
 * folder on MovieLens-100K: the figures the README quotes. The download needs the network, so
 * `--grouplens` names a folder already in the GroupLens ml-100k layout (what
 * `cammsr download movielens-100k` extracts); it is copied where the download would put it.
 * `serve` is timed until it listens and answers one request. Each step's peak resident
 * memory is the cammsr process's own (workers excluded). `demo --quick` is left to bench:demo.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { catalogEntry } from '../src/data/download/catalog.js';
import { formatTable } from '../src/report/table.js';
import { machine, parseArgs } from './common.js';
import { quickstartSteps, runStep } from './readme-steps.js';

const args = parseArgs(
  process.argv.slice(2),
  {
    command: 'npm run bench:quickstart --',
    about: "Seconds of each line of the README's quick start on MovieLens-100K.",
  },
  {
    grouplens: ['string', 'a folder in the GroupLens ml-100k layout (u.data, u.item, u.genre); required'],
    backend: ['string', 'kernel backend, CAMMSR_BACKEND (default wasm, as a machine without OpenBLAS)'],
    json: ['flag', 'one JSON object as the last line'],
  },
);
if (typeof args.grouplens !== 'string') throw new Error('--grouplens <folder> is required (see --help)');
const backend = String(args.backend ?? 'wasm');

const cwd = mkdtempSync(join(os.tmpdir(), 'cammsr-bench-quickstart-'));
const steps = quickstartSteps();
const download = steps.find((s) => s.args[0] === 'download')!;
const name = download.args[1];
const printed = catalogEntry(name)!.prepare({
  dir: join(download.args[download.args.indexOf('--dir') + 1], name),
});
cpSync(args.grouplens, join(cwd, printed[printed.indexOf('--input') + 1]), { recursive: true });

const rows: { line: string; seconds: number; peakMb?: number }[] = [];
try {
  for (const step of steps) {
    if (step.args[0] === 'download' || step.args[0] === 'demo') continue;
    process.stderr.write(`${step.line}\n`);
    const serve = step.args[0] === 'serve';
    const r = await runStep(
      serve ? [...step.args, '--port', '0', '--quiet'] : step.args,
      cwd,
      { CAMMSR_BACKEND: backend },
      async (url) => {
        const res = await fetch(`${url}/v1/users/1/recommendations?k=5`);
        if (!res.ok) throw new Error(`serve answered ${res.status}`);
      },
    );
    if (r.status !== 0 && !serve) throw new Error(`${step.line} failed:\n${r.stderr}`);
    rows.push({ line: step.line.replace(/\s+#.*$/, ''), seconds: r.seconds, peakMb: r.peakMb });
  }
} finally {
  rmSync(cwd, { recursive: true, force: true });
}

console.log(
  formatTable(
    ['step', 'seconds', 'peak RSS MB'],
    rows.map((r) => [r.line.replace(/^npx cammsr /, ''), r.seconds.toFixed(1), r.peakMb?.toFixed(0) ?? '?']),
  ),
);
console.log(`backend ${backend}; node ${process.version}; ${os.cpus().length} cores`);
if (args.json) console.log(JSON.stringify({ backend, machine: machine(), steps: rows }));
