/**
 * The 1000-user, 1000-item synthetic dataset (seed 1, with its 1000 PNGs) that several tests
 * read. It takes seconds to prepare, so it is prepared once into a cache folder under the OS
 * temp dir and shared by every test process. The folder is keyed by the generator options, the
 * package version and a hash of the compiled library (the version stays 0.1.0 while the code
 * changes), and appears only complete: a process prepares beside it and renames its copy into
 * place, and when another process got there first it uses theirs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDataset } from '../src/data/prepare.js';
import { VERSION } from '../src/version.js';

export const SHARED_SYNTH = { users: 1000, items: 1000, seed: 1 } as const;

/** dist/src: the code that prepares the dataset. */
const LIBRARY = fileURLToPath(new URL('../src/', import.meta.url));

let pending: Promise<string> | null = null;

/** The shared dataset's directory, prepared when no test process has prepared it yet. */
export function sharedSynthDataset(): Promise<string> {
  pending ??= prepareShared();
  return pending;
}

async function prepareShared(): Promise<string> {
  const key = createHash('sha256')
    .update(JSON.stringify({ ...SHARED_SYNTH, version: VERSION }))
    .update(libraryHash())
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), `cammsr-test-synth-${key}`);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  const mine = `${dir}.tmp-${process.pid}-${Date.now()}`;
  const { users, items, seed } = SHARED_SYNTH;
  await prepareDataset({ format: 'synth', out: mine, synth: { users, items }, seed });
  try {
    renameSync(mine, dir);
  } catch (err) {
    // Another process renamed its complete copy into place first: the same bytes, use it.
    rmSync(mine, { recursive: true, force: true });
    if (!existsSync(join(dir, 'manifest.json'))) throw err;
  }
  return dir;
}

/** A hash of every compiled library file, so that a code change never reuses an old dataset. */
function libraryHash(): string {
  const h = createHash('sha256');
  const files = readdirSync(LIBRARY, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .sort();
  for (const f of files) h.update(f).update(readFileSync(join(LIBRARY, f)));
  return h.digest('hex');
}
