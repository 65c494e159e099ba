/**
 * `cammsr serve` as a child process: started on port 0 (the address is read from its start
 * line), ready once /readyz answers 200, and killed or stopped by its own process id. For
 * bench/serve-durability.ts, which kills it mid-write, and the open-loop load of bench:serve.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface ServeProcess {
  url: string;
  pid: number;
  /** Seconds from the spawn to the first 200 of /readyz. */
  readySeconds: number;
  /** SIGKILL (nothing is finished or flushed); resolves once it has exited. */
  kill(): Promise<void>;
  /** SIGTERM (in-flight requests finish); resolves once it has exited. */
  stop(): Promise<void>;
  /** CPU seconds (user + system) the process has used so far; NaN where /proc is not readable. */
  cpuSeconds(): number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The address in `cammsr serve`'s start line ("… at http://127.0.0.1:8080; explorer at …, API at
 * …/openapi.json; access: …"), undefined before it is printed.
 */
export const listeningUrl = (output: string): string | undefined =>
  /cammsr serve: .* at (http:\/\/\S+?); explorer at /.exec(output)?.[1];

/**
 * Starts `cammsr serve <args> --port 0 --quiet` and waits until it is ready (at most
 * `timeoutMs`); `cores` pins it to those cores (`taskset -c`, when the machine has taskset).
 */
export async function startServe(
  args: readonly string[],
  { timeoutMs = 120_000, cores }: { timeoutMs?: number; cores?: string } = {},
): Promise<ServeProcess> {
  const t0 = performance.now();
  const argv = [CLI, 'serve', ...args, '--port', '0', '--quiet'];
  const pinned = cores !== undefined && spawnSync('taskset', ['-V']).status === 0;
  const child = pinned
    ? spawn('taskset', ['-c', cores, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let url: string | undefined;
  const read = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
    url ??= listeningUrl(output);
  };
  child.stdout.on('data', read);
  child.stderr.on('data', read);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const end = async (signal: NodeJS.Signals) => {
    if (!gone()) child.kill(signal);
    await exited;
  };
  const fail = async (why: string): Promise<never> => {
    await end('SIGKILL');
    throw new Error(`cammsr serve ${why} (${((performance.now() - t0) / 1000).toFixed(1)} s):\n${output}`);
  };
  while (!(url && (await ready(url)))) {
    if (gone()) await fail('exited before it was ready');
    if (performance.now() - t0 > timeoutMs) await fail('was not ready in time');
    await sleep(50);
  }
  return {
    url,
    pid: child.pid!,
    readySeconds: (performance.now() - t0) / 1000,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    cpuSeconds: () => processCpuSeconds(child.pid!),
  };
}

/**
 * Linux's clock ticks per second for /proc/<pid>/stat (sysconf CLK_TCK), asked once when first
 * needed: the scripts and tests importing this module for other reasons do not spawn getconf.
 */
let clockTicks: number | undefined;
function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clockTicks = Number(r.stdout) > 0 ? Number(r.stdout) : 100;
  }
  return clockTicks;
}

/** utime + stime of a process (fields 14 and 15 of /proc/<pid>/stat, after its name). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond();
  } catch {
    return NaN;
  }
}

async function ready(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}
