/**
 * The README's quick start as data: its `npx cammsr ...` lines, and a runner that executes one
 * of them the way a user's shell would (cwd = the folder they work in), timing it. Shared by
 * test/readme-quickstart.test.ts (which runs them on a small file) and bench/quickstart.ts
 * (which times them at MovieLens-100K's size).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** One quick-start line: the cammsr arguments (comments stripped) and the line as written. */
export interface QuickstartStep {
  args: string[];
  line: string;
}

/** The `npx cammsr` lines of the README's "Quick start" code block, in order. */
export function quickstartSteps(readme = readFileSync(`${ROOT}/README.md`, 'utf8')): QuickstartStep[] {
  const section = readme.split('## Quick start')[1]?.split('\n## ')[0];
  const block = section && /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README.md has no ```sh block under "## Quick start"');
  return block[1]
    .split('\n')
    .map((line) => ({
      line,
      words: line
        .replace(/\s#.*$/, '')
        .trim()
        .split(/\s+/),
    }))
    .filter(({ words }) => words[0] === 'npx' && words[1] === 'cammsr')
    .map(({ line, words }) => ({ args: words.slice(2), line: line.trim() }));
}

export interface StepResult {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Peak resident memory of the cammsr process, MB (reported by the process at exit). */
  peakMb?: number;
}

// Loaded into the cammsr process: at exit it prints its peak RSS on stderr, for the runner.
const PEAK_RSS = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\ncammsr-peak-rss-kb '+process.resourceUsage().maxRSS+'\\n'))`;

/**
 * Runs `cammsr <args>` in `cwd`. A `serve` step runs until it listens, then `whenListening`
 * gets its address and the server is stopped (SIGTERM).
 */
export function runStep(
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
  whenListening?: (url: string) => Promise<void>,
): Promise<StepResult> {
  const t0 = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', PEAK_RSS, CLI, ...args], {
      cwd,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const url = /cammsr serve: .* at (http:\/\/\S+?);/.exec(stderr)?.[1];
      if (url && whenListening && !child.killed) {
        const check = whenListening;
        whenListening = undefined;
        check(url).then(() => child.kill('SIGTERM'), fail);
      }
    });
    child.on('error', fail);
    child.on('close', (status) => {
      const peak = /\ncammsr-peak-rss-kb (\d+)\n/.exec(stderr);
      const seconds = (performance.now() - t0) / 1000;
      if (!peak) return done({ status, stdout, stderr, seconds });
      done({ status, stdout, stderr: stderr.replace(peak[0], ''), seconds, peakMb: Number(peak[1]) / 1024 });
    });
  });
}
