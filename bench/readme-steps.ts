/**
 * The README's shell blocks as data: the `npx cammsr ...` commands of the ```sh blocks under a
 * `## Section` heading, and a runner that executes one of them the way a user's shell would
 * (cwd = the folder they work in, `~/` = their HOME), timing it. Shared by the tests that run
 * the README's commands (test/readme-quickstart.test.ts, test/readme-sections.test.ts) and
 * bench/quickstart.ts (which times the quick start at MovieLens-100K's size).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { listeningUrl } from './serve-process.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** One README command: the cammsr arguments (comments stripped) and the line as written. */
export interface ReadmeStep {
  args: string[];
  line: string;
}

const readReadme = (): string => readFileSync(`${ROOT}/README.md`, 'utf8');

/** The README's `## ` sections by heading, each the text up to the next heading. */
function sections(readme: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of readme.split(/^## /m).slice(1)) {
    const newline = part.indexOf('\n');
    found.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return found;
}

/**
 * The `npx cammsr` commands of the ```sh blocks under `## <heading>`, in order. A comment
 * (` #` to the end of the line) is stripped; `a && b` on one line is two commands.
 */
export function readmeSteps(heading: string, readme = readReadme()): ReadmeStep[] {
  const section = sections(readme).get(heading);
  if (section === undefined) throw new Error(`README.md has no "## ${heading}" section`);
  if (!section.includes('```sh\n')) throw new Error(`README.md has no \`\`\`sh block under "## ${heading}"`);
  return commandsOf(section);
}

function commandsOf(section: string): ReadmeStep[] {
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((block) => block[1].split('\n'))
    .flatMap((line) =>
      line
        .replace(/\s#.*$/, '')
        .split('&&')
        .map((command) => ({ line: line.trim(), words: command.trim().split(/\s+/) })),
    )
    .filter(({ words }) => words[0] === 'npx' && words[1] === 'cammsr')
    .map(({ line, words }) => ({ args: words.slice(2), line }));
}

/** The headings of the sections whose ```sh blocks hold `npx cammsr` commands, in order. */
export function readmeSectionsWithCommands(readme = readReadme()): string[] {
  return [...sections(readme)].filter(([, text]) => commandsOf(text).length > 0).map(([heading]) => heading);
}

/** The README's "Quick start" commands (bench/quickstart.ts times them). */
export const quickstartSteps = (readme = readReadme()): ReadmeStep[] => readmeSteps('Quick start', readme);

/** An argument as the shell passes it: a leading `~` (alone or before `/`) is $HOME. */
export function expandHome(arg: string, home = homedir()): string {
  return arg.replace(/^~(?=\/|$)/, home);
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
 * Runs `cammsr <args>` in `cwd`, with `~/` in an argument expanded to `env.HOME` (else this
 * process's home), as the shell would. A `serve` step runs until it listens, then `whenListening`
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
    const home = env.HOME ?? homedir();
    const argv = args.map((a) => expandHome(a, home));
    const child = spawn(process.execPath, ['--import', PEAK_RSS, CLI, ...argv], {
      cwd,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const url = listeningUrl(stderr);
      if (url && whenListening && !child.killed) {
        const check = whenListening;
        whenListening = undefined;
        // Stopped either way: a failed check must not leave the server running.
        check(url).then(
          () => child.kill('SIGTERM'),
          (err: unknown) => {
            child.kill('SIGTERM');
            fail(err);
          },
        );
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
