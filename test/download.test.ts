/**
 * `downloadDataset` against a file server on 127.0.0.1 (no other network): verified
 * downloads and extraction, a checksum mismatch, an interrupted transfer resumed, a server
 * that ignores Range, a 404, an unreachable host and a copy placed by hand; the zip reader's
 * safety checks; the cache folder; the catalogue itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cacheRoot } from '../src/data/download/cache-dir.js';
import { CATALOG, type CatalogEntry } from '../src/data/download/catalog.js';
import { downloadDataset } from '../src/data/download/download.js';
import { DownloadError } from '../src/data/download/errors.js';
import { extractZip } from '../src/data/download/extract.js';
import { importMovielens } from '../src/data/importers/movielens/index.js';
import { IMPORT_FORMATS } from '../src/data/prepare.js';
import { fileServer } from './file-server.js';
import { tempDir } from './temp.js';
import { zipArchive } from './zip-fixture.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A tiny ml-100k in the GroupLens zip layout (a folder ml-100k/ holding the u.* files). */
function ml100kZip(): Buffer {
  const flags = (g: number) => Array.from({ length: 19 }, (_, k) => (k === g ? '1' : '0')).join('|');
  const data = [
    '1\t1\t5\t881250949',
    '1\t2\t3\t881250950',
    '2\t1\t4\t891717742',
    '2\t2\t2\t891717743',
    '2\t3\t1\t891717744',
  ];
  return zipArchive([
    { name: 'ml-100k/' },
    { name: 'ml-100k/u.data', data: data.join('\n') + '\n', deflate: true },
    {
      name: 'ml-100k/u.item',
      data: Buffer.from(
        `1|Toy Story (1995)||||${flags(3)}\n2|Café (1993)||||${flags(5)}\n3|Heat (1995)||||${flags(1)}\n`,
        'latin1',
      ),
    },
    { name: 'ml-100k/README', data: 'research use only\n', deflate: true },
  ]);
}

/** A one-file catalogue entry for the fixture (pinned unless `pin` is false). */
function entry(name: string, fileName: string, body: Buffer, pin = true, zip = true): CatalogEntry {
  return {
    name,
    description: 'test fixture',
    licence: 'test',
    homepage: 'http://127.0.0.1/',
    files: [
      {
        url: 'https://example.invalid/never-fetched',
        fileName,
        ...(pin ? { sha256: sha256(body), pinSource: 'this test' } : {}),
        ...(zip ? { zip: { folder: 'ml-100k' } } : {}),
      },
    ],
    prepare: ({ dir }) => ['prepare', 'movielens', '--input', join(dir, 'ml-100k'), '--out', name],
  };
}

test('a pinned zip is downloaded, verified and extracted; the next run uses the cache without a request', async () => {
  const zip = ml100kZip();
  const server = await fileServer({ 'ml-100k.zip': { body: zip } });
  try {
    const dir = tempDir('dl');
    const stages = new Set<string>();
    const e = entry('ml-test', 'ml-100k.zip', zip);
    const r = await downloadDataset(e, { dir, baseUrl: server.url, progress: (s) => stages.add(s) });
    assert.equal(r.dir, join(dir, 'ml-test'));
    assert.equal(r.cacheFrom, '--dir');
    assert.deepEqual(
      r.files.map((f) => [f.fileName, f.status, f.pinned, f.bytes, f.sha256]),
      [['ml-100k.zip', 'downloaded', true, zip.length, sha256(zip)]],
    );
    assert.equal(r.files[0].extracted, join(r.dir, 'ml-100k'));
    assert.deepEqual(
      [...stages],
      ['download ml-100k.zip (MB)', 'verify ml-100k.zip (MB)', 'extract ml-100k (MB)'],
    );
    assert.equal(
      r.prepare.command,
      `cammsr prepare movielens --input ${join(r.dir, 'ml-100k')} --out ml-test`,
    );
    assert.equal(existsSync(join(r.dir, 'ml-100k.zip.part')), false);
    const raw = await importMovielens({ input: r.prepare.args[3] });
    assert.equal(raw.interactions.user.length, 5);
    assert.equal(raw.items.get('2')!.title, 'Café (1993)');

    const again = await downloadDataset(e, { dir, baseUrl: server.url });
    assert.equal(again.files[0].status, 'cached');
    assert.equal(server.requests.length, 1, 'nothing fetched the second time');
  } finally {
    await server.close();
  }
});

test('a checksum mismatch deletes the file and says so; a bad copy in the cache is replaced', async () => {
  const zip = ml100kZip();
  const corrupt = Buffer.from(zip);
  corrupt[40] ^= 0xff;
  const server = await fileServer({ 'bad.zip': { body: corrupt }, 'ml-100k.zip': { body: zip } });
  try {
    const dir = tempDir('dl-bad');
    await assert.rejects(
      downloadDataset(entry('bad', 'bad.zip', zip), { dir, baseUrl: server.url }),
      (e: DownloadError) => {
        assert.equal(e.kind, 'checksum');
        assert.match(
          e.message,
          new RegExp(
            `sha256 is ${sha256(corrupt)}, not the pinned ${sha256(zip)} \\(pinned from this test\\); the file was deleted`,
          ),
        );
        return true;
      },
    );
    assert.equal(existsSync(join(dir, 'bad', 'bad.zip')), false);
    assert.equal(existsSync(join(dir, 'bad', 'bad.zip.part')), false);
    assert.equal(existsSync(join(dir, 'bad', 'ml-100k')), false, 'nothing extracted');

    // A damaged copy already in the cache: deleted, fetched again.
    mkdirSync(join(dir, 'good'));
    writeFileSync(join(dir, 'good', 'ml-100k.zip'), corrupt);
    const notes: string[] = [];
    const r = await downloadDataset(entry('good', 'ml-100k.zip', zip), {
      dir,
      baseUrl: server.url,
      notice: (m) => notes.push(m),
    });
    assert.equal(r.files[0].status, 'downloaded');
    assert.match(
      notes[0],
      /ml-100k\.zip: its sha256 [0-9a-f]{64} is not the pinned [0-9a-f]{64}: deleted it, downloading it again/,
    );
  } finally {
    await server.close();
  }
});

test('an interrupted transfer keeps its .part and the next run resumes it with a Range request', async () => {
  const body = Buffer.alloc(300_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7919) & 0xff;
  const server = await fileServer({ 'big.bin': { body, cutOnce: true } });
  try {
    const dir = tempDir('dl-cut');
    const e = entry('cut', 'big.bin', body, true, false);
    await assert.rejects(downloadDataset(e, { dir, baseUrl: server.url }), (err: DownloadError) => {
      assert.equal(err.kind, 'interrupted');
      assert.match(
        err.message,
        /stopped after \d+ of 300000 bytes .* keeps what arrived: run the same command again to resume/,
      );
      return true;
    });
    const part = join(dir, 'cut', 'big.bin.part');
    const kept = statSync(part).size;
    assert.ok(kept > 0 && kept < body.length, `a partial .part (${kept} bytes)`);
    const notes: string[] = [];
    const r = await downloadDataset(e, { dir, baseUrl: server.url, notice: (m) => notes.push(m) });
    assert.equal(r.files[0].status, 'resumed');
    assert.deepEqual(server.requests[1], { path: 'big.bin', range: `bytes=${kept}-` });
    assert.deepEqual(notes, [`big.bin: resuming after ${kept} bytes from ${part}`]);
    assert.ok(readFileSync(join(dir, 'cut', 'big.bin')).equals(body));
  } finally {
    await server.close();
  }
});

test('redirects are followed, and a resumed request keeps its Range through them', async () => {
  const body = Buffer.alloc(200_000, 7);
  const server = await fileServer({
    'hf.bin': { body: Buffer.alloc(0), redirectTo: 'cdn/hf.bin' },
    'cdn/hf.bin': { body, cutOnce: true },
  });
  try {
    const dir = tempDir('dl-redirect');
    const e = entry('redirect', 'hf.bin', body, true, false);
    await assert.rejects(downloadDataset(e, { dir, baseUrl: server.url }), { name: 'DownloadError' });
    const r = await downloadDataset(e, { dir, baseUrl: server.url });
    assert.equal(r.files[0].status, 'resumed');
    const [, , again, cdn] = server.requests;
    assert.equal(again.path, 'hf.bin');
    assert.match(cdn.range ?? '', /^bytes=\d+-$/);
    assert.equal(cdn.path, 'cdn/hf.bin');
  } finally {
    await server.close();
  }
});

test('a server that ignores Range sends the whole file, which replaces the part', async () => {
  const body = Buffer.from('the whole file, from its first byte\n'.repeat(100));
  const server = await fileServer({ 'whole.txt': { body, ignoreRange: true } });
  try {
    const dir = tempDir('dl-norange');
    mkdirSync(join(dir, 'norange'));
    writeFileSync(join(dir, 'norange', 'whole.txt.part'), 'stale bytes of an older attempt');
    const notes: string[] = [];
    const r = await downloadDataset(entry('norange', 'whole.txt', body, true, false), {
      dir,
      baseUrl: server.url,
      notice: (m) => notes.push(m),
    });
    assert.equal(r.files[0].status, 'downloaded');
    assert.match(server.requests[0].range ?? '', /^bytes=31-$/);
    assert.match(
      notes[0],
      /cannot continue .*whole\.txt\.part \(the server ignored the range request, .*\): starting whole\.txt over/,
    );
    assert.ok(readFileSync(join(dir, 'norange', 'whole.txt')).equals(body));
  } finally {
    await server.close();
  }
});

test('a part that already holds the whole file is finished; one longer than the file is started over', async () => {
  const body = Buffer.from('0123456789'.repeat(50));
  const server = await fileServer({ 'f.txt': { body } });
  try {
    const dir = tempDir('dl-416');
    mkdirSync(join(dir, 'whole'));
    writeFileSync(join(dir, 'whole', 'f.txt.part'), body); // killed between the last byte and the rename
    const r = await downloadDataset(entry('whole', 'f.txt', body, true, false), { dir, baseUrl: server.url });
    assert.equal(r.files[0].status, 'resumed');
    mkdirSync(join(dir, 'long'));
    writeFileSync(join(dir, 'long', 'f.txt.part'), Buffer.concat([body, body]));
    const notes: string[] = [];
    const l = await downloadDataset(entry('long', 'f.txt', body, true, false), {
      dir,
      baseUrl: server.url,
      notice: (m) => notes.push(m),
    });
    assert.equal(l.files[0].status, 'downloaded');
    assert.match(notes[0], /starting f\.txt over/);
    assert.ok(readFileSync(join(dir, 'long', 'f.txt')).equals(body));
  } finally {
    await server.close();
  }
});

test('a 404 names the URL and status; an unreachable host says how to use a copy placed by hand', async () => {
  const server = await fileServer({});
  const dir = tempDir('dl-404');
  const zip = ml100kZip();
  try {
    await assert.rejects(
      downloadDataset(entry('gone', 'gone.zip', zip), { dir, baseUrl: server.url }),
      (e: DownloadError) => {
        assert.equal(e.kind, 'http');
        assert.equal(e.message, `${server.url}/gone.zip: the server answered 404 Not Found`);
        return true;
      },
    );
  } finally {
    await server.close();
  }
  // A port nothing listens on: the connection is refused at once.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const e = entry('offline', 'ml-100k.zip', zip);
  const t0 = Date.now();
  await assert.rejects(
    downloadDataset(e, { dir, baseUrl: `http://127.0.0.1:${port}` }),
    (err: DownloadError) => {
      assert.equal(err.kind, 'offline');
      assert.match(
        err.message,
        new RegExp(
          `cannot reach http://127.0.0.1:${port}/ml-100k.zip: the connection was refused \\(ECONNREFUSED\\)`,
        ),
      );
      assert.ok(
        err.message.includes(`put it at ${join(dir, 'offline', 'ml-100k.zip')} and run the same command`),
      );
      return true;
    },
  );
  assert.ok(Date.now() - t0 < 5000, 'fails at once');
  // The copy placed by hand is verified and used; nothing is fetched.
  writeFileSync(join(dir, 'offline', 'ml-100k.zip'), zip);
  const r = await downloadDataset(e, { dir, baseUrl: `http://127.0.0.1:${port}` });
  assert.equal(r.files[0].status, 'cached');
  assert.ok(existsSync(join(dir, 'offline', 'ml-100k', 'u.data')));
});

test('files without a published checksum are refused unless allowed; then their sha256 is reported', async () => {
  const body = gzipSync('{"reviewerID": "U1", "asin": "A1", "unixReviewTime": 1}\n');
  const server = await fileServer({ 'r.json.gz': { body } });
  try {
    const dir = tempDir('dl-unpinned');
    const e = entry('open', 'r.json.gz', body, false, false);
    await assert.rejects(downloadDataset(e, { dir, baseUrl: server.url }), (err: DownloadError) => {
      assert.equal(err.kind, 'unpinned');
      assert.match(
        err.message,
        /^open: no checksum is published for r\.json\.gz, .* Pass --allow-unpinned to download anyway/,
      );
      return true;
    });
    assert.equal(server.requests.length, 0, 'refused before any request');
    const r = await downloadDataset(e, { dir, baseUrl: server.url, allowUnpinned: true });
    assert.deepEqual([r.files[0].pinned, r.files[0].sha256], [false, sha256(body)]);
  } finally {
    await server.close();
  }
});

test('zip extraction refuses paths outside the folder and symbolic links, and checks CRC-32', async () => {
  const dir = tempDir('zip');
  const cases: [string, Buffer, RegExp][] = [
    [
      'slip.zip',
      zipArchive([{ name: '../evil.txt', data: 'x' }]),
      /refusing to extract "\.\.\/evil\.txt": its path leaves the folder/,
    ],
    ['abs.zip', zipArchive([{ name: '/etc/evil', data: 'x' }]), /its path is absolute/],
    [
      'link.zip',
      zipArchive([{ name: 'a/link', data: '/etc/passwd', mode: 0o120777 }]),
      /"a\/link": it is a symbolic link/,
    ],
    ['trunc.zip', ml100kZip().subarray(0, 200), /no end-of-central-directory record/],
  ];
  const flipped = zipArchive([{ name: 'f.txt', data: 'hello world' }]);
  flipped[30 + 'f.txt'.length] ^= 0x01; // first data byte of the stored entry
  cases.push(['crc.zip', flipped, /f\.txt fails its CRC-32 check/]);
  for (const [name, bytes, expected] of cases) {
    writeFileSync(join(dir, name), bytes);
    await assert.rejects(extractZip(join(dir, name), join(dir, `out-${name}`)), expected, name);
  }
  assert.equal(existsSync(join(dir, 'evil.txt')), false);
});

test('the cache folder: --dir, then CAMMSR_CACHE, then XDG_CACHE_HOME/cammsr, then ~/.cache/cammsr', () => {
  assert.deepEqual(cacheRoot('/tmp/x', { CAMMSR_CACHE: '/c' }), { dir: '/tmp/x', from: '--dir' });
  assert.deepEqual(cacheRoot(undefined, { CAMMSR_CACHE: '/c', XDG_CACHE_HOME: '/x' }), {
    dir: '/c',
    from: 'CAMMSR_CACHE',
  });
  assert.deepEqual(cacheRoot(undefined, { XDG_CACHE_HOME: '/x' }), {
    dir: '/x/cammsr',
    from: 'XDG_CACHE_HOME',
  });
  assert.equal(
    cacheRoot(undefined, { XDG_CACHE_HOME: 'relative' }).from,
    'home',
    'a relative XDG_CACHE_HOME is ignored',
  );
  assert.match(cacheRoot(undefined, {}).dir, /\.cache[/\\]cammsr$/);
});

test('the catalogue: unique names and file names, https URLs, pins with their sources, prepare commands', () => {
  const names = CATALOG.map((e) => e.name);
  assert.equal(new Set(names).size, names.length);
  const files = CATALOG.flatMap((e) => e.files);
  assert.equal(
    new Set(files.map((f) => f.fileName)).size,
    files.length,
    'file names are unique (mirrors are flat)',
  );
  for (const f of files) {
    assert.match(f.url, /^https:\/\//, f.url);
    if (f.sha256 !== undefined) {
      assert.match(f.sha256, /^[0-9a-f]{64}$/, f.fileName);
      assert.ok(f.pinSource, `${f.fileName}: where its pin comes from`);
    }
  }
  for (const e of CATALOG) {
    const args = e.prepare({ dir: '/cache/x' });
    assert.equal(args[0], 'prepare');
    assert.ok((IMPORT_FORMATS as readonly string[]).includes(args[1]), `${e.name}: ${args[1]}`);
    assert.equal(args[args.indexOf('--out') + 1], e.name);
  }
  for (const n of [
    'movielens-100k',
    'movielens-1m',
    'amazon2018-all-beauty',
    'amazon2023-industrial-and-scientific',
  ])
    assert.ok(names.includes(n), n);
});
