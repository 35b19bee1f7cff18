/**
 * The room seam across daemons of one process, on the fake bus (test/helpers/room-bus.ts):
 * every daemon sees one order, retried appends land once, a name is claimed by one daemon
 * only, and a daemon cut off while the log moved on is told exactly what it lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendWithRetry } from '../../lib/rooms/append.js';
import type { LoggedEvent, NameRecord } from '../../lib/rooms/seam.js';
import { FakeRoomBus } from '../helpers/room-bus.js';

const msg = (
  text: string,
): {
  kind: 'message';
  data: { id: string; text: string; timestamp: number; user_id: string; username: string };
} => ({
  kind: 'message',
  data: { id: text, text, timestamp: 0, user_id: 'u', username: 'u' },
});
const FAST = { attempts: 20, pauseMs: 1, maxPauseMs: 5 };

async function settle(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), what);
}

test('appends from three daemons: each daemon sees the same order, every event once', async () => {
  const bus = new FakeRoomBus({ maxEvents: 10_000, maxChars: 1e7 });
  const views = [bus.view(), bus.view(), bus.view()];
  const rooms = await Promise.all(views.map((v) => v.open('room')));
  const seen = rooms.map(() => [] as string[]);
  for (const [i, r] of rooms.entries()) {
    r.log.watch((e: LoggedEvent) => seen[i]?.push(`${e.seq}:${e.kind === 'message' ? e.data.text : ''}`));
  }
  const sends = rooms.flatMap((r, d) =>
    Array.from({ length: 100 }, (_, i) => r.log.append(msg(`d${d}-${i}`), `d${d}:${i}`)),
  );
  await Promise.all(sends);
  await settle(() => seen.every((s) => s.length === 300), 'every daemon saw 300 events');
  assert.deepEqual(seen[1], seen[0]);
  assert.deepEqual(seen[2], seen[0]);
  assert.deepEqual(
    seen[0]?.map((s) => Number(s.split(':')[0])),
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  // Each daemon's events are all there.
  for (let d = 0; d < 3; d++) {
    const own = (seen[0] ?? []).map((s) => s.split(':')[1] ?? '').filter((t) => t.startsWith(`d${d}-`));
    assert.equal(own.length, 100);
  }
});

test('an append whose answer was lost is retried with its id and lands once, with its first number', async () => {
  const bus = new FakeRoomBus({ maxEvents: 1000, maxChars: 1e7 });
  const a = bus.view();
  const room = await a.open('room');
  const seen: number[] = [];
  room.log.watch((e) => seen.push(e.seq));
  a.loseAnswers = 3;
  const first = await appendWithRetry(room.log, msg('hello'), 'alice:m1', FAST);
  assert.deepEqual(first, { seq: 1, duplicate: true }, 'the retry found the original');
  const second = await appendWithRetry(room.log, msg('again'), 'alice:m2', FAST);
  assert.equal(second.seq, 2);
  await settle(() => seen.length === 2, 'two events');
  assert.deepEqual(seen, [1, 2]);
  // Cut off: the retries fail until it heals; then the append lands once.
  a.partition();
  const pending = appendWithRetry(room.log, msg('late'), 'alice:m3', {
    attempts: 30,
    pauseMs: 5,
    maxPauseMs: 10,
  });
  await new Promise((r) => setTimeout(r, 40));
  a.heal();
  assert.equal((await pending).seq, 3);
  const page = await room.log.read(0, { maxEvents: 100, maxChars: 1e6 });
  assert.deepEqual(
    page.events.map((e) => e.seq),
    [1, 2, 3],
  );
});

const rec = (owner: string, userId: string): NameRecord => ({
  username: 'alice',
  userId,
  owner,
  source: 's',
  state: 'present',
});

test('two daemons claiming one name at once: exactly one wins; a hold is not overwritten by a stale revision', async () => {
  const bus = new FakeRoomBus({ maxEvents: 10, maxChars: 1e6 });
  const [a, b] = [bus.view(), bus.view()];
  const [ra, rb] = await Promise.all([a.open('room'), b.open('room')]);
  for (let round = 0; round < 20; round++) {
    const key = `name${round}`;
    const results = await Promise.all([
      ra.names.create(key, rec('A', 'a')),
      rb.names.create(key, rec('B', 'b')),
    ]);
    assert.equal(results.filter((r) => r !== undefined).length, 1, `round ${round}`);
  }
  const rev = (await ra.names.create('alice', rec('A', 'a1'))) as number;
  const seenByB = (await rb.names.get('alice'))?.revision;
  const held = await ra.names.hold('alice', { ...rec('A', 'a1'), state: 'held' }, rev, 10_000);
  assert.ok(held !== undefined);
  assert.equal(await rb.names.update('alice', rec('B', 'b1'), seenByB as number), undefined);
  assert.equal(await rb.names.remove('alice', seenByB as number), false);
  assert.equal((await ra.names.get('alice'))?.record.owner, 'A');
  await bus.authority.dispose();
});

test('a daemon cut off while the log moved past its window is told exactly how many were lost', async () => {
  const bus = new FakeRoomBus({ maxEvents: 20, maxChars: 1e6 });
  const [a, b] = [bus.view(), bus.view()];
  const [ra, rb] = await Promise.all([a.open('room'), b.open('room')]);
  let lastAtB = 0;
  rb.log.watch((e) => {
    lastAtB = e.seq;
  });
  for (let i = 1; i <= 10; i++) await ra.log.append(msg(`m${i}`), `a:${i}`);
  await settle(() => lastAtB === 10, 'b caught up');
  b.partition();
  for (let i = 11; i <= 60; i++) await ra.log.append(msg(`m${i}`), `a:${i}`);
  b.heal();
  const page = await rb.log.read(lastAtB, { maxEvents: 100, maxChars: 1e6 });
  assert.equal(page.firstSeq, 41);
  assert.equal(page.lost, 30); // 11..40
  assert.equal(page.events.length, 20);
  await ra.log.wipe('x');
  const after = await rb.log.read(lastAtB, { maxEvents: 100, maxChars: 1e6 });
  assert.deepEqual({ lost: after.lost, wiped: after.wiped }, { lost: 30, wiped: 20 });
});
