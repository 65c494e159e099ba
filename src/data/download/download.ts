/**
 * `cammsr download`: fetches a catalogue dataset into the cache, verifies each file against
 * its pinned sha256, extracts archives, and says which `cammsr prepare` command imports it.
 *
 * A file already in the dataset's cache folder (from an earlier run, or put there by hand)
 * is verified and used; one that fails is deleted and fetched again. An interrupted transfer
 * leaves `<file>.part`, which the next run continues with an HTTP Range request.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ProgressFn } from '../types.js';
import { megabytes } from '../importers/line-stream.js';
import { cacheRoot, type CacheRoot } from './cache-dir.js';
import { CATALOG, catalogEntry, type CatalogEntry, type CatalogFile } from './catalog.js';
import { sha256File } from './checksum.js';
import { DownloadError } from './errors.js';
import { extractZip } from './extract.js';
import { fetchToPart } from './fetch-part.js';
import { shellCommand } from '../shell-words.js';

/**
 * For tests and mirrors: when set, every file is fetched from `<base URL>/<file name>`
 * instead of its canonical URL. Checksums are verified all the same.
 */
export const BASE_URL_ENV = 'CAMMSR_DOWNLOAD_BASE_URL';

export interface DownloadOptions {
  /** The cache folder (default: see cache-dir.ts); the dataset goes into `<dir>/<name>`. */
  dir?: string;
  /** Download files that have no pinned checksum (their sha256 is reported, not checked). */
  allowUnpinned?: boolean;
  /** For tests and mirrors: fetch `<baseUrl>/<file name>` (default: $CAMMSR_DOWNLOAD_BASE_URL). */
  baseUrl?: string;
  /** How long to wait for a connection, and for the next bytes of a transfer (default 30 s). */
  timeoutMs?: number;
  progress?: ProgressFn;
  /** Things worth telling as they happen: a resume, a restart, a bad file deleted. */
  notice?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface DownloadedFile {
  fileName: string;
  path: string;
  url: string;
  bytes: number;
  sha256: string;
  /** Whether `sha256` was checked against a published pin. */
  pinned: boolean;
  /** How the file got here: this run fetched it whole, continued a part, or found it in the cache. */
  status: 'downloaded' | 'resumed' | 'cached';
  /** The folder an archive was extracted to. */
  extracted?: string;
}

export interface DownloadResult {
  name: string;
  /** The dataset's cache folder. */
  dir: string;
  /** What chose the cache folder. */
  cacheFrom: CacheRoot['from'];
  files: DownloadedFile[];
  /** The prepare command that imports the files: its arguments after `cammsr`, and as a shell line. */
  prepare: { args: string[]; command: string };
  notes: string[];
}

export async function downloadDataset(
  dataset: string | CatalogEntry,
  o: DownloadOptions = {},
): Promise<DownloadResult> {
  const entry = typeof dataset === 'string' ? lookUp(dataset) : dataset;
  refuseUnpinned(entry, o.allowUnpinned ?? false);
  const env = o.env ?? process.env;
  const root = cacheRoot(o.dir, env);
  const dir = join(root.dir, entry.name);
  mkdirSync(dir, { recursive: true });
  const notes: string[] = [];
  const note = (m: string): void => {
    notes.push(m);
    o.notice?.(m);
  };
  const ctx: Context = { dir, o, note, baseUrl: o.baseUrl ?? env[BASE_URL_ENV] };
  const files: DownloadedFile[] = [];
  for (const f of entry.files) {
    const got = await obtain(f, ctx);
    if (f.zip) got.extracted = await extractOnce(got.path, f.zip.folder, ctx);
    files.push(got);
  }
  const args = entry.prepare({ dir });
  return {
    name: entry.name,
    dir,
    cacheFrom: root.from,
    files,
    prepare: { args, command: shellCommand(['cammsr', ...args]) },
    notes,
  };
}

interface Context {
  dir: string;
  o: DownloadOptions;
  note: (message: string) => void;
  baseUrl?: string;
}

function lookUp(name: string): CatalogEntry {
  const e = catalogEntry(name);
  if (e === undefined)
    throw new DownloadError(
      'usage',
      `unknown dataset "${name}": expected one of ${CATALOG.map((c) => c.name).join(', ')} (cammsr download --list describes them)`,
    );
  return e;
}

/** Refuses, before any transfer, an entry with unpinned files unless they are allowed. */
function refuseUnpinned(entry: CatalogEntry, allowed: boolean): void {
  const unpinned = entry.files.filter((f) => f.sha256 === undefined).map((f) => f.fileName);
  if (unpinned.length === 0 || allowed) return;
  throw new DownloadError(
    'unpinned',
    `${entry.name}: no checksum is published for ${unpinned.join(' and ')}, so a damaged or altered ` +
      'file could not be detected. Pass --allow-unpinned to download anyway: the sha256 computed is ' +
      'printed, to compare with another copy.',
  );
}

/** The file in the cache, verified: found there, or fetched (continuing a part). */
async function obtain(f: CatalogFile, ctx: Context): Promise<DownloadedFile> {
  const path = join(ctx.dir, f.fileName);
  const url = ctx.baseUrl ? `${ctx.baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(f.fileName)}` : f.url;
  const result = (sha256: string, status: DownloadedFile['status']): DownloadedFile => ({
    fileName: f.fileName,
    path,
    url,
    bytes: 0,
    sha256,
    pinned: f.sha256 !== undefined,
    status,
  });
  if (existsSync(path)) {
    const sha = await hash(path, f, ctx);
    if (f.sha256 === undefined || sha === f.sha256) return sized(result(sha, 'cached'));
    rmSync(path, { force: true });
    ctx.note(`${path}: its sha256 ${sha} is not the pinned ${f.sha256}: deleted it, downloading it again`);
  }
  const part = `${path}.part`;
  const report = await transfer(url, part, path, f, ctx);
  const sha = await hash(part, f, ctx);
  if (f.sha256 !== undefined && sha !== f.sha256) {
    rmSync(part, { force: true });
    throw new DownloadError(
      'checksum',
      `${url}: the downloaded file's sha256 is ${sha}, not the pinned ${f.sha256} (pinned from ${f.pinSource}); ` +
        'the file was deleted. The transfer may have been damaged (run the command again), or the server ' +
        'sends another version of the file than the one pinned.',
    );
  }
  renameSync(part, path);
  return sized(result(sha, report.resumedFrom > 0 ? 'resumed' : 'downloaded'));
}

/** The transfer into the part; an unreachable host gets the way round it added to its error. */
async function transfer(url: string, part: string, path: string, f: CatalogFile, ctx: Context) {
  const onBytes = ctx.o.progress && megabytes(ctx.o.progress, `download ${f.fileName} (MB)`);
  const onStart = (from: number, restarted: boolean): void => {
    if (restarted)
      ctx.note(
        `${url}: cannot continue ${part} (the server ignored the range request, or the part is longer ` +
          `than the file): starting ${f.fileName} over`,
      );
    else if (from > 0) ctx.note(`${f.fileName}: resuming after ${from} bytes from ${part}`);
  };
  try {
    return await fetchToPart(url, part, { timeoutMs: ctx.o.timeoutMs ?? 30_000, onBytes, onStart });
  } catch (e) {
    if (!(e instanceof DownloadError) || e.kind !== 'offline') throw e;
    const check =
      f.sha256 !== undefined ? 'checked against the pinned sha256' : 'used (with --allow-unpinned)';
    throw new DownloadError(
      'offline',
      `${e.message}. To use a copy got another way (another machine, a mirror), put it at ${path} ` +
        `and run the same command: it is ${check}, and nothing is fetched.`,
    );
  }
}

function hash(path: string, f: CatalogFile, ctx: Context): Promise<string> {
  return sha256File(path, ctx.o.progress && megabytes(ctx.o.progress, `verify ${f.fileName} (MB)`));
}

function sized(r: DownloadedFile): DownloadedFile {
  return { ...r, bytes: statSync(r.path).size };
}

/** Extracts the archive's `folder` into the dataset folder unless it is there already. */
async function extractOnce(zip: string, folder: string, ctx: Context): Promise<string> {
  const target = join(ctx.dir, folder);
  if (existsSync(target)) return target;
  // Extracted beside, then renamed: a failed extraction leaves no half folder behind.
  const staging = join(ctx.dir, `.extracting-${folder}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    await extractZip(zip, staging, ctx.o.progress && megabytes(ctx.o.progress, `extract ${folder} (MB)`));
    if (!existsSync(join(staging, folder)))
      throw new DownloadError(
        'archive',
        `${zip}: expected the folder ${folder}/ in the archive, found ${readdirSync(staging).join(', ') || 'nothing'}`,
      );
    renameSync(join(staging, folder), target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}
