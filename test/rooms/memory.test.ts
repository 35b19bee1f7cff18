/**
 * The in-memory room seam: numbering, de-duplication, paged reads that tell lost from wiped,
 * retention by events, characters and the daemon-wide budget, epochs, and the name table's
 * compare-and-set and holds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedBudget } from '../../lib/rooms/budget.js';
import { DEDUPE_WINDOW_MS, MemoryNameTable, MemoryRoomLog, MemoryRoomStore } from '../../lib/rooms/memory.js';
import type { LoggedEvent, NameChange, NameRecord } from '../../lib/rooms/seam.js';

const msg = (
  text: string,
): {
  kind: 'message';
  data: { id: string; text: string; timestamp: number; user_id: string; username: string };
} => ({
  kind: 'message',
  data: { id: text, text, timestamp: 0, user_id: 'u', username: 'alice' },
});
const WIDE = { maxEvents: 1000, maxChars: 1_000_000 };
const texts = (events: LoggedEvent[]): string[] =>
  events.map((e) => (e.kind === 'message' ? e.data.text : `wipe:${e.wiped}`));

test('events are numbered 1, 2, 3 and watchers see each once, in order', async () => {
  const log = new MemoryRoomLog(WIDE);
  const seen: number[] = [];
  log.watch((e) => seen.push(e.seq));
  for (let i = 0; i < 5; i++) assert.equal((await log.append(msg(`m${i}`))).seq, i + 1);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.equal(log.lastSeq, 5);
});

test('an id appended again resolves with the original number and appends nothing', async () => {
  const log = new MemoryRoomLog(WIDE);
  const seen: number[] = [];
  log.watch((e) => seen.push(e.seq));
  await log.append(msg('a'), 'alice:1');
  await log.append(msg('b'), 'bob:1');
  assert.deepEqual(await log.append(msg('a again'), 'alice:1'), { seq: 1, duplicate: true });
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(texts((await log.read(0, WIDE)).events), ['a', 'b']);
});

test('ids are remembered while their event is held, and for the window after it is gone', async () => {
  let now = 0;
  const log = new MemoryRoomLog({ maxEvents: 2, maxChars: 1e6 }, undefined, () => now);
  await log.append(msg('a'), 'x');
  await log.append(msg('b'), 'y');
  await log.append(msg('c'), 'z'); // 'a' is gone from the log, its id is not
  assert.equal((await log.append(msg('a'), 'x')).duplicate, true);
  now = DEDUPE_WINDOW_MS + 1;
  await log.append(msg('d'), 'w'); // forgetting runs on append
  assert.equal((await log.append(msg('a'), 'x')).duplicate, false, 'gone and older than the window');
  assert.equal((await log.append(msg('d'), 'w')).duplicate, true, 'still held');
});

test('reads come in pages bounded by events and characters, one event always fits', async () => {
  const log = new MemoryRoomLog(WIDE);
  for (let i = 1; i <= 10; i++) await log.append(msg('x'.repeat(i)));
  const page = await log.read(0, { maxEvents: 3, maxChars: 1e6 });
  assert.deepEqual(
    page.events.map((e) => e.seq),
    [1, 2, 3],
  );
  assert.equal(page.lastSeq, 10);
  const byChars = await log.read(3, { maxEvents: 100, maxChars: 9 });
  assert.deepEqual(
    byChars.events.map((e) => e.seq),
    [4, 5],
  ); // 4 + 5 = 9 characters
  const huge = await log.read(9, { maxEvents: 100, maxChars: 1 });
  assert.deepEqual(
    huge.events.map((e) => e.seq),
    [10],
  );
  assert.deepEqual((await log.read(10, WIDE)).events, []);
});

test('retention drops the oldest; a reader behind it is told exactly how many it lost', async () => {
  const log = new MemoryRoomLog({ maxEvents: 4, maxChars: 1e6 });
  for (let i = 1; i <= 10; i++) await log.append(msg(`m${i}`));
  const page = await log.read(3, WIDE);
  assert.equal(page.firstSeq, 7);
  assert.equal(page.lost, 3); // 4, 5, 6
  assert.equal(page.wiped, 0);
  assert.deepEqual(texts(page.events), ['m7', 'm8', 'm9', 'm10']);
  const byChars = new MemoryRoomLog({ maxEvents: 100, maxChars: 10 });
  for (let i = 0; i < 5; i++) await byChars.append(msg('abcd'));
  assert.equal((await byChars.read(0, WIDE)).lost, 3); // 2 × 4 characters fit
});

test('a wipe removes what was held; readers before it are told wiped, not lost, even once its event is gone', async () => {
  const log = new MemoryRoomLog({ maxEvents: 5, maxChars: 1e6 });
  for (let i = 1; i <= 7; i++) await log.append(msg(`m${i}`)); // holds 3..7
  const wipe = await log.wipe('bob');
  assert.deepEqual({ seq: wipe.seq, wiped: wipe.wiped }, { seq: 8, wiped: 5 });
  let page = await log.read(0, WIDE);
  assert.deepEqual(
    { lost: page.lost, wiped: page.wiped, first: page.firstSeq },
    { lost: 2, wiped: 5, first: 8 },
  );
  page = await log.read(4, WIDE);
  assert.deepEqual({ lost: page.lost, wiped: page.wiped }, { lost: 0, wiped: 3 });
  assert.deepEqual(texts(page.events), ['wipe:5']);
  for (let i = 9; i <= 20; i++) await log.append(msg(`m${i}`)); // the wipe event ages out
  page = await log.read(4, WIDE);
  assert.equal(page.firstSeq, 16);
  assert.deepEqual({ lost: page.lost, wiped: page.wiped }, { lost: 7, wiped: 3 }); // 9..15 lost, 8 was the wipe
  // A second wipe right after: the first wipe's event inside its cut is not a message.
  const two = new MemoryRoomLog(WIDE);
  await two.append(msg('a'));
  await two.wipe('x');
  await two.append(msg('b'));
  await two.wipe('y');
  page = await two.read(0, WIDE);
  assert.deepEqual(
    { lost: page.lost, wiped: page.wiped, first: page.firstSeq },
    { lost: 0, wiped: 2, first: 4 },
  );
});

test('the daemon-wide budget shrinks the largest log first', async () => {
  const budget = new SharedBudget(100);
  const big = new MemoryRoomLog(WIDE, budget);
  const small = new MemoryRoomLog(WIDE, budget);
  await small.append(msg('s'.repeat(20)));
  for (let i = 0; i < 10; i++) await big.append(msg('b'.repeat(10)));
  assert.equal(budget.used, 100);
  await big.append(msg('b'.repeat(10)));
  assert.equal(small.size, 20, 'the small log keeps its message');
  assert.equal(big.size, 80);
  assert.equal((await big.read(0, WIDE)).lost, 3);
  big.dispose();
  assert.equal(budget.used, 20);
});

test('a room closed and opened again is a new epoch, numbered from 1', async () => {
  const store = new MemoryRoomStore(WIDE);
  const first = await store.open('chat');
  assert.equal(await store.open('chat'), first);
  await first.log.append(msg('a'));
  await store.close('chat');
  const again = await store.open('chat');
  assert.notEqual(again.log.epoch, first.log.epoch);
  assert.equal((await again.log.append(msg('b'))).seq, 1);
  await store.dispose();
});

const rec = (owner: string, state: 'present' | 'held' = 'present'): NameRecord => ({
  username: 'alice',
  userId: `${owner}-conn`,
  owner,
  source: '10.0.0.1',
  state,
});

test('names: create once, then compare-and-set by revision', async () => {
  const names = new MemoryNameTable();
  const changes: NameChange[] = [];
  names.watch((c) => changes.push(c));
  const r1 = await names.create('alice', rec('a'));
  assert.ok(r1 !== undefined);
  assert.equal(await names.create('alice', rec('mallory')), undefined);
  const r2 = await names.update('alice', rec('a'), r1);
  assert.ok(r2 !== undefined && r2 > r1);
  assert.equal(await names.update('alice', rec('mallory'), r1), undefined, 'a stale revision');
  assert.equal(await names.remove('alice', r1), false);
  assert.equal(await names.remove('alice', r2), true);
  assert.deepEqual(
    changes.map((c) => (c.op === 'put' ? `put:${c.entry.record.owner}` : `delete:${c.why}`)),
    ['put:a', 'put:a', 'delete:released'],
  );
});

test('a hold expires on its own unless its owner takes it back first', async () => {
  const names = new MemoryNameTable();
  const changes: NameChange[] = [];
  names.watch((c) => changes.push(c));
  const r1 = (await names.create('alice', rec('a'))) as number;
  const held = (await names.hold('alice', { ...rec('a'), state: 'held' }, r1, 30)) as number;
  assert.equal((await names.get('alice'))?.record.state, 'held');
  await names.update('alice', rec('a'), held); // the owner is back before the time
  await new Promise((r) => setTimeout(r, 60));
  assert.equal((await names.get('alice'))?.record.state, 'present', 'a taken-back hold does not expire');
  const rev = (await names.get('alice'))?.revision as number;
  await names.hold('alice', { ...rec('a'), state: 'held' }, rev, 20);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await names.get('alice'), undefined);
  const last = changes.at(-1);
  assert.equal(last?.op === 'delete' ? last.why : undefined, 'expired');
});
