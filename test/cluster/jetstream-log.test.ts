/**
 * A room's log on a real nats-server with JetStream (memory storage, store on a private
 * tmpfs): two daemons appending at once get one order without a hole and see it alike; a
 * re-appended id is a duplicate with the original's number; reads from any number, in pages;
 * retention by messages and by bytes counts what is lost; a wipe purges and counts wiped, not
 * lost; a nats-server restart starts a new epoch, which the watcher is told, and each daemon
 * mirrors the room's names anew (a watch carried over would resume past the new bucket's start).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { MAX_BACKLOG } from '../../lib/cluster/jetstream-log.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import type { LoggedEvent, NameRecord } from '../../lib/rooms/seam.js';
import { message, type TestStore, testStore, textOf } from '../helpers/jetstream.js';
import { type NatsServer, skipWithoutNats, startNatsServer } from '../helpers/nats.js';
import { waitFor } from '../helpers/raw-client.js';

const PAGE = { maxEvents: 100_000, maxChars: 100_000_000 };

interface Ctx {
  skip(m: string): void;
  after(fn: () => Promise<void>): void;
}

/** A JetStream nats-server for one test; the stores made on it close before it stops. */
async function withServer(t: Ctx): Promise<NatsServer | undefined> {
  if (skipWithoutNats(t)) return undefined;
  const server = await startNatsServer({ jetstream: true });
  const made: TestStore[] = [];
  opened.set(server, made);
  t.after(async () => {
    await Promise.all(made.map((s) => s.close()));
    await server.stop();
  });
  return server;
}

const opened = new Map<NatsServer, TestStore[]>();

async function stores(server: NatsServer, n: number, options = {}): Promise<TestStore[]> {
  const keys = deriveClusterKeys(randomBytes(32));
  // Each store is closed with its server as soon as it is made: if another fails, one left
  // open would reconnect for ever and keep the file (so the run) from ending.
  return Promise.all(
    Array.from({ length: n }, async () => {
      const store = await testStore([server.url], keys, options);
      opened.get(server)!.push(store);
      return store;
    }),
  );
}

test('two daemons appending at once: one order, numbered 1…N without a hole, seen alike by both', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a, b] = await stores(server, 2);
  const [la, lb] = [(await a!.store.open('room')).log, (await b!.store.open('room')).log];
  const seenA: LoggedEvent[] = [];
  const seenB: LoggedEvent[] = [];
  la.watch((e) => seenA.push(e));
  lb.watch((e) => seenB.push(e));
  const N = 400;
  const acks = await Promise.all(
    Array.from({ length: N }, (_, i) => (i % 2 === 0 ? la : lb).append(message(`m${i}`), `id${i}`)),
  );
  const seqs = acks.map((x) => x.seq).sort((x, y) => x - y);
  assert.deepEqual(
    seqs,
    Array.from({ length: N }, (_, i) => i + 1),
    'every append got its own number',
  );
  assert.ok(acks.every((x) => !x.duplicate));
  await waitFor(() => seenA.length === N && seenB.length === N, 'both watchers saw every event');
  assert.deepEqual(
    seenA.map((e) => e.seq),
    seqs,
    'in order, once each',
  );
  assert.deepEqual(seenA.map(textOf), seenB.map(textOf), 'both daemons saw one order');
  // The number an append got is the number every watcher sees for that event.
  for (let i = 0; i < N; i++) assert.equal(textOf(seenA[acks[i]!.seq - 1]!), `m${i}`);
  const page = await la.read(0, PAGE);
  assert.deepEqual(page.events.map(textOf), seenA.map(textOf));
  assert.equal(page.lastSeq, N);
  assert.ok(la.lastSeq === N && lb.lastSeq === N);
});

test('a re-appended id (from the same or another daemon) is a duplicate with the original number', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a, b] = await stores(server, 2);
  const [la, lb] = [(await a!.store.open('room')).log, (await b!.store.open('room')).log];
  const first = await la.append(message('once'), 'owner:mid-1');
  assert.deepEqual(first, { seq: 1, duplicate: false });
  await la.append(message('other'), 'owner:mid-2');
  assert.deepEqual(await la.append(message('once'), 'owner:mid-1'), { seq: 1, duplicate: true });
  await waitFor(() => lb.lastSeq === 2, 'b caught up');
  assert.deepEqual(await lb.append(message('once'), 'owner:mid-1'), { seq: 1, duplicate: true });
  // At once on both daemons, before either is logged: one event.
  const [x, y] = await Promise.all([
    la.append(message('race'), 'owner:mid-3'),
    lb.append(message('race'), 'owner:mid-3'),
  ]);
  assert.equal(x.seq, y.seq);
  assert.equal([x, y].filter((r) => r.duplicate).length, 1);
  const page = await lb.read(0, PAGE);
  assert.deepEqual(page.events.map(textOf), ['once', 'other', 'race']);
});

test('read from any number, in pages that respect their limits', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a] = await stores(server, 1);
  const log = (await a!.store.open('room')).log;
  // Batches of several events and single ones.
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(message(`m${i + 1}`))));
  for (let i = 51; i <= 60; i++) await log.append(message(`m${i}`));
  for (const after of [0, 1, 17, 49, 50, 59]) {
    const page = await log.read(after, PAGE);
    assert.deepEqual(
      page.events.map((e) => e.seq),
      Array.from({ length: 60 - after }, (_, i) => after + i + 1),
      `from ${after}`,
    );
    assert.equal(textOf(page.events[0]!), `m${after + 1}`);
    assert.deepEqual([page.firstSeq, page.lastSeq, page.lost, page.wiped], [1, 60, 0, 0]);
  }
  assert.equal((await log.read(60, PAGE)).events.length, 0);
  const small = await log.read(10, { maxEvents: 7, maxChars: 1000 });
  assert.deepEqual(
    small.events.map((e) => e.seq),
    [11, 12, 13, 14, 15, 16, 17],
  );
  const byChars = await log.read(10, { maxEvents: 100, maxChars: 6 });
  assert.deepEqual(
    byChars.events.map((e) => e.seq),
    [11, 12],
    'm11 and m12 are 3 characters each',
  );
  const one = await log.read(10, { maxEvents: 100, maxChars: 1 });
  assert.deepEqual(
    one.events.map((e) => e.seq),
    [11],
    'one event always fits',
  );
});

test('retention by messages and by bytes: the log drops the oldest and a reader is told how many it lost', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a] = await stores(server, 1, { limits: { maxEvents: 10, maxChars: 1_000_000 } });
  const log = (await a!.store.open('by-count')).log;
  for (let i = 1; i <= 30; i++) await log.append(message(`m${i}`));
  const page = await log.read(0, PAGE);
  assert.equal(page.firstSeq, 21);
  assert.deepEqual([page.lost, page.wiped], [20, 0]);
  assert.deepEqual(
    page.events.map(textOf),
    Array.from({ length: 10 }, (_, i) => `m${i + 21}`),
  );
  const mid = await log.read(15, PAGE);
  assert.deepEqual([mid.firstSeq, mid.lost], [21, 5], 'a cursor inside the lost range: only what it missed');

  // 100 events and 400,000 characters: 40,000-character messages are bounded by bytes first.
  const [b] = await stores(server, 1, { limits: { maxEvents: 100, maxChars: 400_000 } });
  const byBytes = (await b!.store.open('by-bytes')).log;
  const big = 'x'.repeat(40_000);
  for (let i = 1; i <= 40; i++) await byBytes.append(message(`${i}:${big}`));
  const kept = await byBytes.read(0, PAGE);
  assert.ok(
    kept.firstSeq > 10 && kept.firstSeq < 40,
    `bytes bound the log before the count (first ${kept.firstSeq})`,
  );
  assert.equal(kept.lost, kept.firstSeq - 1);
  assert.equal(kept.events.length, 40 - kept.lost);
  const chars = kept.events.reduce((n, e) => n + textOf(e).length, 0);
  assert.ok(chars <= 400_000 * 1.5 + 192 * 100, `${chars} characters kept`);
});

test('a batch never outgrows the payload limit: messages that encode to 6 bytes a character are logged with others', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a, b] = await stores(server, 2, { limits: { maxEvents: 10_000, maxChars: 16_000_000 } });
  const [la, lb] = [(await a!.store.open('room')).log, (await b!.store.open('room')).log];
  const seen: LoggedEvent[] = [];
  lb.watch((e) => seen.push(e));
  // A control character is written \u0001 in the batch's JSON: 64 Ki of them make 384 KiB,
  // so three such messages and their neighbours queued at once exceed one server message.
  const wide = '\u0001'.repeat(64 * 1024);
  const texts = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? `${i}${wide}` : `small ${i}`));
  const acks = await Promise.all(texts.map((text, i) => la.append(message(text), `id${i}`)));
  assert.deepEqual(
    acks.map((x) => x.seq).sort((x, y) => x - y),
    Array.from({ length: texts.length }, (_, i) => i + 1),
    'every message logged, none refused',
  );
  await waitFor(() => seen.length === texts.length, 'the other daemon saw every event');
  assert.deepEqual(
    seen.map(textOf),
    [...acks.keys()].sort((x, y) => acks[x]!.seq - acks[y]!.seq).map((i) => texts[i]),
  );
});

test('a stream with a small byte limit gets batches it can keep: another daemon misses none', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  // 100 events and 100,000 characters: the stream keeps its least, 512 KiB. The 1.2 MB of
  // messages queued at once would make batches of up to 1 MB, stored and dropped at once,
  // unseen by other daemons; a batch takes a quarter of the stream's bytes at most.
  const [a, b] = await stores(server, 2, { limits: { maxEvents: 100, maxChars: 100_000 } });
  const [la, lb] = [(await a!.store.open('small')).log, (await b!.store.open('small')).log];
  const seen: LoggedEvent[] = [];
  lb.watch((e) => seen.push(e));
  // The other daemon follows the stream before the burst (else retention may pass it by).
  await la.append(message('first'));
  await waitFor(() => seen.length === 1, 'the other daemon follows');
  const texts = Array.from({ length: 300 }, (_, i) => `${i}:${'y'.repeat(4000)}`);
  const acks = await Promise.all(texts.map((text) => la.append(message(text))));
  assert.equal(new Set(acks.map((x) => x.seq)).size, texts.length);
  await waitFor(() => seen.length === texts.length + 1, 'the other daemon saw every event', 10_000);
  assert.deepEqual(
    seen.map((e) => e.seq),
    Array.from({ length: texts.length + 1 }, (_, i) => i + 1),
    'in order, without a hole',
  );
});

test('the smallest resume window (1 message, 1 character) still carries every message, the largest too, to the other daemons', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a, b] = await stores(server, 2, { limits: { maxEvents: 1, maxChars: 1 } });
  const [la, lb] = [(await a!.store.open('tiny')).log, (await b!.store.open('tiny')).log];
  const seen: LoggedEvent[] = [];
  lb.watch((e) => seen.push(e));
  // The largest message a member can send (64 Ki characters), each written \u0001 in JSON.
  const largest = '\u0001'.repeat(64 * 1024);
  const texts = ['m1', largest, 'm3', 'm4', 'm5'];
  // One at a time, each seen before the next: the stream keeps one message, so the next
  // append drops it, and a follower just behind would count it lost (as the window says).
  for (const [i, text] of texts.entries()) {
    await la.append(message(text));
    await waitFor(
      () => seen.length === i + 1,
      () => `the other daemon saw ${seen.length} of ${i + 1}`,
    );
  }
  assert.deepEqual(seen.map(textOf), texts);
  const page = await lb.read(0, PAGE);
  assert.deepEqual([page.events.map(textOf), page.lost], [['m5'], 4], 'the log keeps the newest one');
});

test('wipe: purges what came before, counts it as wiped (not lost), and the log goes on', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a, b] = await stores(server, 2);
  const log = (await a!.store.open('room')).log;
  const other = (await b!.store.open('room')).log;
  const seen: LoggedEvent[] = [];
  other.watch((e) => seen.push(e));
  for (let i = 1; i <= 5; i++) await log.append(message(`m${i}`));
  const wipe = await log.wipe('alice');
  assert.deepEqual([wipe.seq, wipe.kind, wipe.by, wipe.wiped], [6, 'wipe', 'alice', 5]);
  await log.append(message('after'));
  const page = await other.read(0, PAGE);
  assert.deepEqual([page.firstSeq, page.lost, page.wiped], [6, 0, 5]);
  assert.deepEqual(
    page.events.map((e) => e.kind),
    ['wipe', 'message'],
  );
  const inside = await other.read(3, PAGE);
  assert.deepEqual([inside.lost, inside.wiped], [0, 2]);
  await waitFor(() => seen.length === 7, 'the other daemon saw the wipe');
  assert.deepEqual(seen[5], { kind: 'wipe', by: 'alice', wiped: 5, seq: 6 });
  // A second wipe: its range starts at the first wipe, which is not a message.
  const again = await other.wipe('bob');
  assert.deepEqual([again.seq, again.wiped], [8, 1]);
  const last = await log.read(0, PAGE);
  assert.deepEqual([last.firstSeq, last.lost, last.wiped], [8, 0, 6]);
});

test('a nats-server restart: the log starts over with a new epoch, the watcher is told, numbering restarts', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a] = await stores(server, 1);
  const log = (await a!.store.open('room')).log as import('../../lib/cluster/jetstream-log.js').JetStreamLog;
  const before = log.epoch;
  const epochs: string[] = [];
  log.watch(
    () => undefined,
    (epoch) => epochs.push(epoch),
  );
  for (let i = 1; i <= 3; i++) await log.append(message(`m${i}`));
  await server.stop('SIGKILL');
  await server.restart();
  await waitFor(() => epochs.length === 1, 'the new epoch announced', 20_000);
  assert.notEqual(log.epoch, before);
  assert.equal(epochs[0], log.epoch);
  assert.deepEqual(await log.append(message('new life')), { seq: 1, duplicate: false });
  const page = await log.read(0, PAGE);
  assert.deepEqual([page.epoch, page.firstSeq, page.lost], [log.epoch, 1, 0]);
  assert.deepEqual(page.events.map(textOf), ['new life']);
});

test('a daemon that opens the room later knows every id the log holds: a resend there is a duplicate', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a, b] = await stores(server, 2);
  const early = (await a!.store.open('room')).log;
  for (let i = 0; i < 50; i++) await early.append(message(`m${i}`), `owner:${i}`);
  const late = (await b!.store.open('room')).log;
  assert.equal(late.lastSeq, 50);
  assert.deepEqual(await late.append(message('m3 again'), 'owner:3'), { seq: 4, duplicate: true });
  assert.deepEqual(await late.append(message('m50'), 'owner:50'), { seq: 51, duplicate: false });
});

test('the id table is bounded: past its size the oldest ids are forgotten, every newer one still de-duplicates', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  // A small log (the stream keeps a few batches) with the smallest id table: 4,096 ids.
  const [a] = await stores(server, 1, { limits: { maxEvents: 100, maxChars: 1000 } });
  const log = (await a!.store.open('room')).log;
  const TABLE = 4096;
  const EXTRA = 100;
  const acks = await Promise.all(
    Array.from({ length: TABLE + EXTRA }, (_, i) => log.append(message(`m${i}`), `owner:${i}`)),
  );
  assert.deepEqual(
    acks.map((x) => x.seq),
    Array.from({ length: TABLE + EXTRA }, (_, i) => i + 1),
  );
  // The newest TABLE ids are known, each with its own number (the log itself holds far fewer).
  for (let i = EXTRA; i < TABLE + EXTRA; i++) {
    assert.deepEqual(
      await log.append(message('again'), `owner:${i}`),
      { seq: i + 1, duplicate: true },
      `id ${i}`,
    );
  }
  // The EXTRA oldest were forgotten, in the order they came: appended anew.
  for (let i = 0; i < EXTRA; i++) {
    assert.deepEqual(await log.append(message('anew'), `owner:${i}`), {
      seq: TABLE + EXTRA + i + 1,
      duplicate: false,
    });
  }
  // Those took the places of the next oldest, which are forgotten now; the rest are not.
  assert.equal((await log.append(message('anew'), `owner:${EXTRA}`)).duplicate, false);
  assert.deepEqual(await log.append(message('again'), `owner:${2 * EXTRA + 1}`), {
    seq: 2 * EXTRA + 2,
    duplicate: true,
  });
});

test('closing a room nobody is in deletes its log: opened again, it is a new epoch from 1', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a] = await stores(server, 1);
  const first = (await a!.store.open('room')).log;
  for (let i = 0; i < 3; i++) await first.append(message(`m${i}`));
  const epoch = first.epoch;
  await a!.store.close('room');
  const again = (await a!.store.open('room')).log;
  assert.notEqual(again.epoch, epoch);
  assert.deepEqual(await again.append(message('new')), { seq: 1, duplicate: false });
  // A room with a name in it is not deleted by one daemon closing it.
  const { names } = await a!.store.open('kept');
  const kept = (await a!.store.open('kept')).log;
  await kept.append(message('stays'));
  assert.ok(
    await names.create('alice', {
      username: 'alice',
      userId: 'u',
      owner: 'o',
      source: 's',
      state: 'present',
    }),
  );
  const keptEpoch = kept.epoch;
  await a!.store.close('kept');
  const reopened = (await a!.store.open('kept')).log;
  assert.equal(reopened.epoch, keptEpoch);
  assert.equal(reopened.lastSeq, 1);
});

test('appends waiting for a server that is gone are bounded: beyond the backlog one fails at once', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const [a] = await stores(server, 1);
  const log = (await a!.store.open('room')).log;
  await log.append(message('before'));
  await server.stop('SIGKILL');
  const waiting = Array.from({ length: MAX_BACKLOG }, (_, i) =>
    log.append(message(`w${i}`)).catch(() => 'failed'),
  );
  await assert.rejects(log.append(message('one too many')), /backlog full/);
  await server.restart();
  // The waiting ones go on once the server is back (into the log's new life) or fail: none hangs.
  const settled = await Promise.all(waiting);
  assert.equal(settled.length, MAX_BACKLOG);
});

test('a nats-server restart: each daemon mirrors the names anew, and sees the names another claims after it', async (t) => {
  const server = await withServer(t);
  if (!server) return;
  const resynced: number[][] = [[], []];
  const keys = deriveClusterKeys(randomBytes(32));
  const made = await Promise.all(
    [0, 1].map(async (i) => {
      const store = await testStore([server.url], keys, { onResynced: (n) => resynced[i]!.push(n) });
      opened.get(server)!.push(store);
      return store;
    }),
  );
  const rooms = await Promise.all(made.map((s) => s.store.open('room')));
  await rooms[0]!.log.append(message('before'));
  const seen: string[] = [];
  rooms[0]!.names.watch((c) => {
    if (c.op === 'put') seen.push(c.entry.record.username);
  });
  const record = (username: string): NameRecord => ({
    username,
    userId: `u-${username}`,
    owner: 'f'.repeat(32),
    source: '',
    state: 'present',
  });
  // Names before the restart: a watch that carried on would resume past them, on a new bucket.
  for (const name of ['early1', 'early2', 'early3']) {
    assert.notEqual(await rooms[1]!.names.create(name, record(name)), undefined);
  }
  await waitFor(() => seen.length === 3, 'the early names, seen');
  await server.stop('SIGKILL');
  await server.restart();
  await waitFor(() => resynced.every((r) => r.length > 0), 'both stores resynchronised', 20_000);
  assert.notEqual(await rooms[1]!.names.create('late', record('late')), undefined);
  await waitFor(() => seen.includes('late'), "the other daemon's new name, seen", 10_000);
});
