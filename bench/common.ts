/** Shared helpers of the benchmark scripts: argument parsing, medians, PyTorch runs, output. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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

/** Runs a bench/pytorch script with --json and returns its last-line JSON (or a reason it could not). */
export function runTorch(
  script: string,
  args: string[],
): { ok: true; result: Record<string, unknown> } | { ok: false; reason: string } {
  if (!existsSync(TORCH_PYTHON))
    return { ok: false, reason: `${TORCH_PYTHON} not found (apt-get install python3-torch)` };
  try {
    const out = execFileSync(TORCH_PYTHON, [script, ...args, '--json'], {
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

/** Reads `--name value` and `--flag` options; unknown options are errors. */
export function parseArgs(
  argv: string[],
  spec: Record<string, 'string' | 'number' | 'flag'>,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.replace(/^--/, '');
    const kind = spec[name];
    if (!a.startsWith('--') || !kind) {
      throw new Error(
        `unknown argument "${a}"; options: ${Object.keys(spec)
          .map((k) => '--' + k)
          .join(' ')}`,
      );
    }
    if (kind === 'flag') out[name] = true;
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`--${name} needs a value`);
      if (kind === 'number') {
        const n = Number(v);
        if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
        out[name] = n;
      } else out[name] = v;
    }
  }
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
