/**
 * The MovieLens importer on small fixture files in each GroupLens layout (ml-100k's u.*,
 * ml-1m's *.dat, the CSV of ml-20m and later), with a latin-1 title and bad lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importMovielens, MOVIELENS_SKIP } from '../src/data/importers/movielens/index.js';
import type { RawDataset } from '../src/data/types.js';
import { tempDir } from './temp.js';

/** A folder with the given files; string contents are written as UTF-8, buffers as they are. */
function folder(name: string, files: Record<string, string | Buffer>): string {
  const dir = join(tempDir('movielens'), name);
  mkdirSync(dir);
  for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content);
  return dir;
}

/** The rows as [user id, item id, time] triples. */
function rows(ds: RawDataset): [string, string, number | null][] {
  const c = ds.interactions;
  return Array.from(c.user, (u, r) => [c.userIds[u], c.itemIds[c.item[r]], c.time ? c.time[r] : null]);
}

const flags = (...on: number[]) =>
  Array.from({ length: 19 }, (_, g) => (on.includes(g) ? '1' : '0')).join('|');

test('ml-100k layout: tab-separated u.data, latin-1 u.item with genre flags named by u.genre', async () => {
  const uitem = [
    `1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|${flags(3, 4, 5)}`,
    `2|Café au lait (1993)|01-Jan-1993||http://x|${flags(5)}`,
    `3|Unrated (1990)|01-Jan-1990||http://x|${flags()}`,
    `9|Never Rated (1990)|01-Jan-1990||http://x|${flags(8)}`,
  ].join('\n');
  const genres = ['unknown|0', 'Action|1', 'Adventure|2', 'Animation|3', "Children's|4", 'Comedy|5'];
  const more = ['Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery'];
  const rest = ['Romance', 'Sci-Fi', 'Thriller', 'War', 'Western'];
  [...more, ...rest].forEach((g, k) => genres.push(`${g}|${k + 6}`));
  const dir = folder('ml-100k', {
    'u.data': '196\t1\t3\t881250949\n196\t2\t4\t881250950\n186\t3\t1\t891717742\n186\t2\t5\n22\t1\t2\tsoon\n',
    'u.item': Buffer.from(uitem + '\n', 'latin1'),
    'u.genre': genres.join('\n') + '\n\n',
  });
  const raw = await importMovielens({ input: dir });
  assert.equal(raw.name, 'ml-100k');
  assert.deepEqual(rows(raw), [
    ['196', '1', 881250949],
    ['196', '2', 881250950],
    ['186', '3', 891717742],
  ]);
  assert.deepEqual(raw.items.get('1'), {
    title: 'Toy Story (1995)',
    categories: [['Animation'], ["Children's"], ['Comedy']],
  });
  assert.equal(raw.items.get('2')!.title, 'Café au lait (1993)', 'u.item is read as ISO-8859-1');
  assert.deepEqual(raw.items.get('3'), { title: 'Unrated (1990)' });
  assert.equal(raw.items.has('9'), false, 'movies without ratings are not kept');
  assert.equal(raw.categoryPaths, false);
  assert.match(raw.source, /u\.item \(latin-1\)/);
  assert.deepEqual(raw.skips.reasons, { [MOVIELENS_SKIP.malformed]: 1, [MOVIELENS_SKIP.badTime]: 1 });
  assert.equal(raw.skips.records, 5 + 4);
  const data = join(dir, 'u.data');
  assert.ok(
    raw.skips.examples.includes(
      `${data}:4: expected 4 tab-separated fields (user, movie, rating, timestamp), found 3 fields`,
    ),
  );
  assert.ok(raw.skips.examples.includes(`${data}:5: timestamp "soon" is not a number of seconds`));
});

test('ml-1m layout: "::"-separated ratings.dat and latin-1 movies.dat, given as the folder or the file', async () => {
  const dir = folder('ml-1m', {
    'ratings.dat': '1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n2::::4::978298414\n',
    'movies.dat': Buffer.from(
      "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach (1996)::Animation|Children's|Musical\n" +
        '3000::Les Misérables (1935)::Drama\nbroken line\n',
      'latin1',
    ),
    'users.dat': '1::F::1::10::48067\n',
  });
  const raw = await importMovielens({ input: dir });
  assert.deepEqual(rows(raw), [
    ['1', '1193', 978300760],
    ['1', '661', 978302109],
    ['2', '1193', 978298413],
  ]);
  assert.deepEqual(raw.items.get('661'), {
    title: 'James and the Giant Peach (1996)',
    categories: [['Animation'], ["Children's"], ['Musical']],
  });
  assert.deepEqual(raw.skips.reasons, { [MOVIELENS_SKIP.missingId]: 1, [MOVIELENS_SKIP.malformedMovie]: 1 });
  assert.match(raw.source, /movies\.dat \(latin-1\)/);
  assert.ok(
    raw.skips.examples.includes(`${join(dir, 'movies.dat')}:4: expected 3 fields separated by "::", found 1`),
  );
  const viaFile = await importMovielens({ input: join(dir, 'ratings.dat'), name: 'one-m' });
  assert.equal(viaFile.name, 'one-m');
  assert.deepEqual(rows(viaFile), rows(raw));
});

test('csv layout: header names the columns, quoted titles with commas, UTF-8 titles, no genres listed', async () => {
  const dir = folder('ml-25m', {
    'ratings.csv':
      'userId,movieId,rating,timestamp\n1,296,5.0,1147880044\n1,306,3.5,1147868817\n2,296,4.0,1147880045\n3,x\n',
    'movies.csv':
      'movieId,title,genres\n296,Pulp Fiction (1994),Comedy|Crime|Drama|Thriller\n' +
      '306,"Three Colors: Red (Trois couleurs: Rouge) (1994)",Drama\n' +
      '4973,"Amélie (Fabuleux destin d\'Amélie Poulain, Le) (2001)",Comedy|Romance\n',
  });
  const raw = await importMovielens({ input: dir });
  assert.deepEqual(rows(raw), [
    ['1', '296', 1147880044],
    ['1', '306', 1147868817],
    ['2', '296', 1147880045],
  ]);
  assert.deepEqual(raw.items.get('306'), {
    title: 'Three Colors: Red (Trois couleurs: Rouge) (1994)',
    categories: [['Drama']],
  });
  assert.deepEqual(raw.skips.reasons, { [MOVIELENS_SKIP.malformed]: 1 });
  assert.match(raw.source, /movies\.csv \(utf-8\)/);

  const quoted = folder('ml-latest', {
    'ratings.csv': 'userId,movieId,rating,timestamp\n7,4973,4.5,1300000000\n7,200000,3,1300000001\n',
    'movies.csv':
      'movieId,title,genres\n4973,"Amélie (Fabuleux destin d\'Amélie Poulain, Le) (2001)",Comedy|Romance\n' +
      '200000,"The ""Quoted"" One (2020)",(no genres listed)\n',
  });
  const q = await importMovielens({ input: quoted });
  assert.deepEqual(q.items.get('4973'), {
    title: "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
    categories: [['Comedy'], ['Romance']],
  });
  assert.deepEqual(q.items.get('200000'), { title: 'The "Quoted" One (2020)' });
});

test('wrong inputs are errors that say what was expected', async () => {
  const empty = folder('empty', { 'README.txt': 'nothing here' });
  await assert.rejects(
    importMovielens({ input: empty }),
    /expected a MovieLens ratings file \(u\.data, ratings\.dat, ratings\.csv\) in the folder$/,
  );
  const outer = tempDir('movielens-outer');
  mkdirSync(join(outer, 'ml-1m'));
  writeFileSync(join(outer, 'ml-1m', 'ratings.dat'), '1::2::3::4\n');
  await assert.rejects(importMovielens({ input: outer }), /the folder .*ml-1m has one: pass it as --input/);
  const badHeader = folder('bad-header', { 'ratings.csv': 'user,item,rating,time\n1,2,3,4\n' });
  await assert.rejects(
    importMovielens({ input: badHeader }),
    /ratings\.csv:1: expected a header with userId, movieId and timestamp columns, found user, item, rating, time/,
  );
  const badGenre = folder('bad-genre', {
    'u.data': '1\t2\t3\t4\n',
    'u.item': `2|T|||x|${flags(1)}\n`,
    'u.genre': 'unknown|0\nAction|7\n',
  });
  await assert.rejects(importMovielens({ input: badGenre }), /u\.genre:2: expected "name\|1"/);
  await assert.rejects(
    importMovielens({ input: join(empty, 'README.txt') }),
    /cannot tell the MovieLens layout/,
  );
});

test('cammsr prepare movielens: titles and genres reach the dataset', () => {
  const lines = ['userId,movieId,rating,timestamp'];
  for (let u = 1; u <= 6; u++)
    for (let t = 0; t < 5; t++) lines.push(`${u},${((u + t) % 7) + 1},4,${1000 + t}`);
  const movies = ['movieId,title,genres'];
  for (let m = 1; m <= 7; m++)
    movies.push(`${m},"Film ${m}, The (199${m})",${m % 2 ? 'Drama' : 'Comedy|Drama'}`);
  const dir = folder('ml-mini', {
    'ratings.csv': lines.join('\n') + '\n',
    'movies.csv': movies.join('\n') + '\n',
  });
  const out = join(tempDir('movielens-out'), 'ds');
  const r = spawnSync(
    process.execPath,
    ['dist/src/cli/main.js', 'prepare', 'movielens', '--input', dir, '--out', out, '--json'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(j.interactions, 30);
  assert.equal(j.categories, 2);
  assert.match(r.stdout, /categories\s+2 \(100\.0% of items labelled\)/);
});
