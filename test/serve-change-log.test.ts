/** The change log: what model workers are sent of the catalog's changes, a build's new entries at a time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ItemChange } from '../src/serve/catalog-growth.js';
import { ChangeLog, deltaParts, ReceivedChanges } from '../src/serve/change-log.js';

const change = (id: string, title: string): ItemChange => ({ id, info: { id, title }, withdrawn: false });
const titles = (changes: ItemChange[]) => changes.map((c) => `${c.id}:${c.info.title}`);

test('changes keep the order of each item’s first entry; a restore takes an addition back or an update back', () => {
  const log = ChangeLog.of([
    ['a', change('a', '1')],
    ['b', null], // a withdrawal of an item the bundle lacks: in the log, not in the changes
    ['c', change('c', '1')],
  ]);
  assert.deepEqual(titles(log.changes()), ['a:1', 'c:1']);
  log.set('a', change('a', '2'));
  assert.deepEqual(titles(log.changes()), ['a:2', 'c:1'], 'an update keeps its place');
  log.set('b', change('b', '1'));
  assert.deepEqual(titles(log.changes()), ['a:2', 'b:1', 'c:1'], "b's place is its first entry's");
  // An addition whose commit failed, then an update whose commit failed.
  log.set('d', change('d', '1'));
  log.restore('d', undefined);
  log.set('c', change('c', '2'));
  log.restore('c', change('c', '1'));
  assert.deepEqual(titles(log.changes()), ['a:2', 'b:1', 'c:1']);
  log.set('e', change('e', '1'));
  log.set('d', change('d', '2'));
  assert.deepEqual(
    titles(log.changes()),
    ['a:2', 'b:1', 'c:1', 'e:1', 'd:2'],
    'd comes after e, as the store has them',
  );
  assert.equal(log.length, 11);
});

test('a worker fed the log in any cut of deltas holds what a worker sent it whole holds', () => {
  const log = new ChangeLog();
  const first = new ReceivedChanges();
  const second = new ReceivedChanges();
  let seenFirst = 0;
  let seenSecond = 0;
  const steps: [string, string | undefined][] = [
    ['a', '1'],
    ['b', '1'],
    ['a', '2'],
    ['c', '1'],
    ['x', 'restore'],
    ['b', '2'],
    ['d', '1'],
    ['d', 'restore'],
    ['e', '1'],
  ];
  for (const [k, [id, what]] of steps.entries()) {
    if (what === 'restore') {
      log.set(id, change(id, 'failed'));
      log.restore(id, undefined);
    } else log.set(id, change(id, what!));
    // The first worker builds after every step, the second after every third.
    const d = log.since(seenFirst);
    assert.deepEqual(titles(first.apply(d)), titles(log.changes()));
    seenFirst = d.to;
    if (k % 3 === 2) {
      const d2 = log.since(seenSecond);
      assert.deepEqual(titles(second.apply(d2)), titles(log.changes()));
      seenSecond = d2.to;
    }
    log.forget(Math.min(seenFirst, seenSecond));
  }
  assert.deepEqual(titles(log.changes()), ['a:2', 'b:2', 'c:1', 'e:1']);
  // Entries seen by both are dropped; a worker that has seen nothing is sent the changes, not their history.
  assert.throws(() => log.since(1), /entry 1 is not kept/);
  const fresh = log.since(0);
  assert.equal(fresh.entries.length, 4);
  assert.deepEqual(titles(new ReceivedChanges().apply(fresh)), titles(log.changes()));
});

test('a delta that does not follow what the worker has is refused', () => {
  const log = ChangeLog.of([['a', change('a', '1')]]);
  const worker = new ReceivedChanges();
  worker.apply(log.since(0));
  log.set('b', change('b', '1'));
  log.set('c', change('c', '1'));
  assert.throws(
    () => worker.apply({ ...log.since(2), from: 2 }),
    /changes \d+@2 do not follow the 1 entries/,
  );
  const other = ChangeLog.of([['z', null]]);
  other.set('y', null);
  assert.throws(() => worker.apply(other.since(1)), /do not follow the 1 entries of log/);
  assert.deepEqual(titles(worker.apply(log.since(1))), ['a:1', 'b:1', 'c:1']);
});

test('a delta cut into parts, applied in turn, leaves a worker as the whole delta does', () => {
  const log = ChangeLog.of(Array.from({ length: 7 }, (_, i) => [`i${i}`, change(`i${i}`, '1')] as const));
  for (const size of [1, 2, 3, 7, 50]) {
    const whole = new ReceivedChanges();
    const cut = new ReceivedChanges();
    // The changes as they are, then a few entries on top.
    const reset = log.since(0);
    const parts = deltaParts(reset, size);
    assert.equal(parts.length, Math.ceil(7 / size));
    assert.deepEqual(
      parts.map((p) => p.reset),
      parts.map((_, k) => k === 0),
    );
    let last: ItemChange[] = [];
    for (const p of parts) last = cut.apply(p);
    assert.deepEqual(titles(last), titles(whole.apply(reset)));
    log.set(`j${size}`, change(`j${size}`, '1'));
    log.set('i2', change('i2', String(size)));
    log.restore(`j${size}`, undefined);
    const step = log.since(reset.to);
    for (const p of deltaParts(step, size)) last = cut.apply(p);
    assert.deepEqual(titles(last), titles(whole.apply(step)));
    assert.deepEqual(titles(last), titles(log.changes()));
  }
  // Nothing to send is still one (empty) delta, which the build carries.
  assert.deepEqual(
    deltaParts(log.since(log.length), 3).map((p) => p.entries.length),
    [0],
  );
});
