/** Shared helpers of the benchmark scripts: argument parsing, medians, PyTorch runs, output. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { OPENBLAS_THREAD_TIMEOUT } from '../src/kernels/native.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
}

export const TORCH_PYTHON = '/usr/bin/python3';

/**
 * glibc settings for the PyTorch process (unless the caller's environment sets them): keep
 * freed memory in the heap instead of handing each large tensor back to the kernel. By default
 * every tensor over 32 MB is a fresh mmap, zeroed page by page when first touched; on a VM where
 * page faults are slow that made PyTorch's CAMMSR step 2.3x slower (1,466 against ~640 ms at two
 * threads), a cost a tuned PyTorch setup (or jemalloc) does not pay. Our engine reuses its
 * buffers (the step arena), so this is PyTorch's best case, not a handicap.
 */
const TORCH_MALLOC = {
  MALLOC_MMAP_MAX_: '0',
  MALLOC_TRIM_THRESHOLD_: String(64 * 2 ** 30),
  MALLOC_TOP_PAD_: String(2 ** 30),
};

/**
 * The OpenBLAS spin after each GEMM that cammsr's addon sets (src/kernels/native.ts), unless the
 * caller's environment sets one: PyTorch runs on the same OpenBLAS, and with OpenBLAS's default
 * spin its step was 2-12% slower (docs/performance.md, "OpenBLAS's threads between GEMMs").
 */
const TORCH_OPENBLAS = { OPENBLAS_THREAD_TIMEOUT };

/** Runs a bench/pytorch script with --json and returns its last-line JSON (or a reason it could not). */
export function runTorch(
  script: string,
  args: string[],
): { ok: true; result: Record<string, unknown> } | { ok: false; reason: string } {
  if (!existsSync(TORCH_PYTHON))
    return { ok: false, reason: `${TORCH_PYTHON} not found (apt-get install python3-torch)` };
  try {
    const out = execFileSync(TORCH_PYTHON, [script, ...args, '--json'], {
      env: { ...TORCH_MALLOC, ...TORCH_OPENBLAS, ...process.env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 << 20,
    });
    const lines = out.trim().split('\n');
    return { ok: true, result: JSON.parse(lines[lines.length - 1]) };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { ok: false, reason: (e.stderr || e.message).trim().split('\n').slice(-3).join(' | ') };
  }
}

type ArgKind = 'string' | 'number' | 'flag';
/** A script's options: name (without `--`) -> kind and the description `--help` prints. */
export type ArgSpec = Record<string, [ArgKind, string]>;

/**
 * Parses a benchmark script's `--name value` and `--flag` options with commander, the parser of
 * the `cammsr` CLI: `--help` prints what the script does and every option, and an unknown option
 * or a value that is not a number where one is expected is an error naming the option (exit
 * code 1). Values come back under the options' own names (`args['max-epochs']`).
 */
export function parseArgs(
  argv: string[],
  usage: { command: string; about: string },
  spec: ArgSpec,
): Record<string, string | number | boolean> {
  const cmd = new Command(usage.command).description(usage.about).usage('[options]');
  const options = Object.entries(spec).map(([name, [kind, description]]) => {
    const option =
      kind === 'flag'
        ? new Option(`--${name}`, description)
        : new Option(`--${name} <${kind === 'number' ? 'n' : 'value'}>`, description);
    if (kind === 'number')
      option.argParser((v: string) => {
        const n = Number(v);
        if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number.');
        return n;
      });
    // Options a script passes to its own child processes are not the user's to set.
    if (description.startsWith('internal:')) option.hideHelp();
    cmd.addOption(option);
    return { name, key: option.attributeName() };
  });
  cmd.parse(argv, { from: 'user' });
  const values = cmd.opts();
  const out: Record<string, string | number | boolean> = {};
  for (const { name, key } of options)
    if (values[key] !== undefined) out[name] = values[key] as string | number | boolean;
  return out;
}

export function machine(): Record<string, string | number> {
  return { node: process.version, platform: `${process.platform}-${process.arch}` };
}

/**
 * Node flags of a training process: a larger young generation, for fewer scavenges of each
 * step's small objects (measured 12% less wall time per Beauty CAMMSR epoch before the step
 * arena, docs/performance.md). The `cammsr` command's shebang passes the same flag.
 */
export const TRAINING_NODE_FLAGS = ['--max-semi-space-size=64'];
