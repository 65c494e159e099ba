/** The prepare and stats commands as a user runs them: tables, --json last lines, clear errors. */
import { progressLines } from '../src/cli/progress.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp.js';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8' });
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop()!);

test('prepare synth and stats print a table and, with --json, one JSON object last', () => {
  const out = join(tempDir('cli'), 'synth');
  const r = cli('prepare', 'synth', '--out', out, '--users', '120', '--items', '48', '--seed', '2', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /users\s+120/);
  const j = lastJson(r.stdout);
  assert.equal(j.users, 120);
  assert.equal(j.items, 48);
  assert.equal(typeof j.interactions, 'number');
  assert.match(j.checksum, /^[0-9a-f]{64}$/);
  const s = execFileSync(process.execPath, ['dist/src/cli/main.js', 'stats', out, '--json'], {
    encoding: 'utf8',
  });
  assert.match(s, /image coverage\s+100\.0%/);
  // The folder other commands take as --data, then the dataset's own name.
  assert.ok(s.split('\n').some((l) => /^folder \(--data\)\s+/.test(l) && l.trimEnd().endsWith(out)));
  assert.equal(lastJson(s).checksum, j.checksum);
});

test('bad arguments and bad datasets are clear errors with a non-zero exit', () => {
  const dir = tempDir('cli');
  const a = cli('prepare', 'xml', '--out', join(dir, 'x'));
  assert.notEqual(a.status, 0);
  assert.match(a.stderr, /value 'xml' is invalid for argument 'format'. Allowed choices are csv, recbole/);
  const b = cli('prepare', 'recbole', '--out', join(dir, 'x'));
  assert.notEqual(b.status, 0);
  assert.match(b.stderr, /needs --input/);
  const c = cli('stats', dir);
  assert.notEqual(c.status, 0);
  assert.match(c.stderr, /is not a cammsr dataset: manifest\.json is missing/);
  const missing = cli('stats', join(dir, 'nope'));
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /dataset folder .*nope does not exist \(prepare one with cammsr prepare\)/);
  const d = cli('prepare', 'synth', '--out', join(dir, 'y'), '--items', 'many');
  assert.notEqual(d.status, 0);
  assert.match(d.stderr, /--items must be an integer >= 1, got "many"/);
});

test('progress off a terminal: a line per stage start, at most one per interval, one at its end', () => {
  const lines: string[] = [];
  const p = progressLines(60_000, (l) => lines.push(l));
  p.update('text: tokenise', 0, 100);
  p.update('text: tokenise', 50, 100); // within the interval: quiet
  p.update('text: tokenise', 100, 100);
  p.update('text: tokenise', 100, 100); // already reported its end
  p.update('images: decode', 1, 4);
  assert.deepEqual(lines, [
    'text: tokenise: 0/100 (0%)\n',
    'text: tokenise: 100/100 (100%)\n',
    'images: decode: 1/4 (25%)\n',
  ]);
});

test('prepare csv: a file whose name says no format needs --input-format, and the error names that flag', () => {
  const dir = tempDir('cli-format');
  const input = join(dir, 'interactions.log');
  const rows = ['user_id\titem_id\ttimestamp'];
  for (let u = 0; u < 6; u++) for (let t = 0; t < 5; t++) rows.push(`u${u}\ti${(u + t) % 7}\t${1000 + t}`);
  writeFileSync(input, rows.join('\n') + '\n');
  let r = cli('prepare', 'csv', '--input', input, '--out', join(dir, 'a'));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /cannot tell the format from the name.*--input-format/);
  r = cli('prepare', 'csv', '--input', input, '--input-format', 'tsv', '--out', join(dir, 'b'), '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(lastJson(r.stdout).interactions, 30);
});

test('prepare csv: the column flags default to names a file may lack (no timestamp, no image column)', () => {
  const dir = tempDir('cli-columns');
  const input = join(dir, 'log.csv');
  const rows = ['user_id,item_id'];
  for (let u = 0; u < 6; u++) for (let t = 0; t < 5; t++) rows.push(`u${u},i${(u + t) % 7}`);
  writeFileSync(input, rows.join('\n') + '\n');
  const items = join(dir, 'items.csv');
  writeFileSync(
    items,
    'item_id,title\n' + Array.from({ length: 7 }, (_, i) => `i${i},Item ${i}`).join('\n') + '\n',
  );
  let r = cli('prepare', 'csv', '--input', input, '--items', items, '--out', join(dir, 'a'), '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(lastJson(r.stdout).timestamps, false);
  // A name given on the command line must be there.
  r = cli(
    'prepare',
    'csv',
    '--input',
    input,
    '--items',
    items,
    '--image-col',
    'poster',
    '--out',
    join(dir, 'b'),
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /items\.csv: no column "poster" \(the image column/);
});
