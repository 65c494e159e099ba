/** `cammsr download`: a thin shell over downloadDataset and the catalogue. */
import { Command, InvalidArgumentError } from 'commander';
import { CACHE_ENV, cacheRoot } from '../data/download/cache-dir.js';
import { CATALOG, type CatalogEntry, type CatalogFile } from '../data/download/catalog.js';
import { BASE_URL_ENV, downloadDataset, type DownloadResult } from '../data/download/download.js';
import { formatTable } from '../report/table.js';
import { progressBars } from './progress.js';

interface DownloadFlags {
  list?: boolean;
  dir?: string;
  allowUnpinned?: boolean;
  json?: boolean;
}

/** Decimal units, as the sources state sizes ("4.9 MB"). */
function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let k = 0;
  let x = n;
  while (x >= 1000 && k < units.length - 1) {
    x /= 1000;
    k++;
  }
  return k === 0 ? `${n} B` : `${x.toFixed(x < 10 ? 1 : 0)} ${units[k]}`;
}

const fileSize = (f: CatalogFile): string =>
  f.bytes !== undefined ? formatBytes(f.bytes) : f.approxSize !== undefined ? `~${f.approxSize}` : '?';

function pinSummary(e: CatalogEntry): string {
  const pinned = e.files.filter((f) => f.sha256 !== undefined).length;
  if (pinned === e.files.length) return 'sha256 pinned';
  return pinned === 0 ? 'none published' : `${pinned} of ${e.files.length} pinned`;
}

function listCommand(o: DownloadFlags): void {
  const rows = CATALOG.map((e) => [
    e.name,
    e.description,
    e.files.map(fileSize).join(' + '),
    pinSummary(e),
    e.licence,
  ]);
  console.log(formatTable(['name', 'what it is', 'size', 'checksum', 'licence terms'], rows));
  const root = cacheRoot(o.dir);
  console.log(
    `\ncache folder: ${root.dir}. Sizes: ~ rounded, ? not published. A dataset whose files are not all ` +
      'pinned downloads only with --allow-unpinned.',
  );
  if (o.json) {
    const datasets = CATALOG.map((e) => ({
      name: e.name,
      description: e.description,
      licence: e.licence,
      homepage: e.homepage,
      pinned: e.files.every((f) => f.sha256 !== undefined),
      files: e.files.map(({ zip: _zip, ...f }) => f),
    }));
    console.log(JSON.stringify({ cacheDir: root.dir, datasets }));
  }
}

function printResult(r: DownloadResult): void {
  console.log(`${r.name} in ${r.dir}`);
  const rows = r.files.map((f) => [
    f.fileName,
    formatBytes(f.bytes),
    f.status,
    f.pinned ? 'matches the pinned sha256' : 'no pin published: compare with another copy',
    f.sha256,
  ]);
  console.log(formatTable(['file', 'size', 'how', 'checksum', 'sha256'], rows));
  for (const f of r.files) if (f.extracted) console.log(`extracted ${f.fileName} to ${f.extracted}`);
  console.log(`\nimport it with:\n  ${r.prepare.command}`);
}

async function downloadCommand(name: string | undefined, o: DownloadFlags): Promise<void> {
  if (o.list) return listCommand(o);
  if (name === undefined)
    throw new InvalidArgumentError('name the dataset to download (cammsr download --list shows them)');
  const bars = progressBars(!o.json);
  const notice = (m: string): void => {
    bars.stop();
    process.stderr.write(`note: ${m}\n`);
  };
  try {
    const r = await downloadDataset(name, {
      dir: o.dir,
      allowUnpinned: o.allowUnpinned,
      progress: bars.update,
      notice,
    });
    bars.stop();
    printResult(r);
    if (o.json) console.log(JSON.stringify(r));
  } finally {
    bars.stop();
  }
}

export function registerDownloadCommand(program: Command): void {
  program
    .command('download')
    .description(
      'fetch a public dataset (MovieLens, Amazon reviews) into the cache, verify its checksum, extract it, ' +
        'and print the cammsr prepare command that imports it',
    )
    .argument('[name]', 'dataset to download (see --list)')
    .option('--list', 'list the datasets: what they are, sizes, checksums, licence terms')
    .option(
      '--dir <dir>',
      `cache folder (default: $${CACHE_ENV}, else $XDG_CACHE_HOME/cammsr, else ~/.cache/cammsr)`,
    )
    .option(
      '--allow-unpinned',
      'also download files that have no published checksum (their sha256 is printed)',
    )
    .option('--json', 'print one JSON object as the last line')
    .addHelpText(
      'after',
      `
Files go to <cache folder>/<name>/. An interrupted download resumes from its .part file on the
next run. Without network, put the file (same name) in that folder yourself: the command
verifies it and uses it.

Environment:
  ${CACHE_ENV}                 the cache folder (overridden by --dir)
  ${BASE_URL_ENV}     for tests and mirrors: fetch every file from <url>/<file name>
                               instead of its canonical URL (checksums are still verified)`,
    )
    .action(downloadCommand);
}
