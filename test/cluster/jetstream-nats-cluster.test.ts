/**
 * Rooms on a 3-node NATS cluster (JetStream, memory storage, every stream and bucket with 3
 * replicas, each server's store on a private tmpfs): two daemons on different servers append
 * while the server leading the room's stream is killed. Every append the seam acknowledged,
 * and every one retried with its id after a rejection, is in the log exactly once, numbered
 * without a hole, and both daemons' watchers saw the same events in the same order.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { deriveClusterKeys, roomLogNames } from '../../lib/cluster/keys.js';
import type { LoggedEvent, RoomLog } from '../../lib/rooms/seam.js';
import { message, testStore, textOf } from '../helpers/jetstream.js';
import { skipWithoutNats, startNatsCluster } from '../helpers/nats.js';
import { waitFor } from '../helpers/raw-client.js';

/** Appends until the log acknowledges, retrying with the same id as a daemon would. */
async function appendSurely(log: RoomLog, text: string, id: string): Promise<number> {
  for (;;) {
    try {
      return (await log.append(message(text), id)).seq;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

// Known defect (issue 24, open): after the stream's leader dies, a watcher may stall for more than
// 30 s (2 of 3 full runs on 2026-12-07); the log itself lost nothing when it passed.
const WATCH_AFTER_LEADER_LOSS = 'a watcher may stall after the stream leader dies: known, issue 24';

test('kill the nats-server leading a room while two daemons append: nothing lost, nothing twice', {
  todo: WATCH_AFTER_LEADER_LOSS,
}, async (t) => {
  if (skipWithoutNats(t)) return;
  const cluster = await startNatsCluster(3);
  const keys = deriveClusterKeys(randomBytes(32));
  const urls = cluster.urls;
  const options = { replicas: 3, leaseMs: 3000 };
  const a = await testStore([urls[0]!, urls[1]!, urls[2]!], keys, options);
  const b = await testStore([urls[1]!, urls[2]!, urls[0]!], keys, options);
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await cluster.stop();
  });
  const [la, lb] = [(await a.store.open('room')).log, (await b.store.open('room')).log];
  const seenA: LoggedEvent[] = [];
  const seenB: LoggedEvent[] = [];
  la.watch((e) => seenA.push(e));
  lb.watch((e) => seenB.push(e));

  const jsm = await jetstreamManager(a.nc);
  const info = await jsm.streams.info(roomLogNames(keys, 'room').stream);
  assert.equal(info.config.num_replicas, 3);
  const leader = info.cluster?.leader;
  const victim = cluster.servers[Number(/^n(\d)$/.exec(leader ?? '')?.[1]) - 1];
  assert.ok(victim, `the stream leader (${leader}) is one of ours`);

  const N = 150;
  const run = async (log: RoomLog, tag: string): Promise<void> => {
    for (let i = 0; i < N; i++) {
      await appendSurely(log, `${tag}${i}`, `${tag}:${i}`);
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const writers = Promise.all([run(la, 'a'), run(lb, 'b')]);
  await waitFor(() => la.lastSeq >= 60, 'appends under way');
  await victim.stop('SIGKILL');
  await writers;

  await waitFor(
    () => seenA.length >= 2 * N && seenB.length >= 2 * N,
    'both watchers saw every event',
    30_000,
  );
  const page = await lb.read(0, { maxEvents: 10_000, maxChars: 10_000_000 });
  const texts = page.events.map(textOf);
  assert.equal(page.lost, 0);
  assert.deepEqual(
    page.events.map((e) => e.seq),
    Array.from({ length: 2 * N }, (_, i) => i + 1),
    'numbered without a hole',
  );
  const expected = [
    ...Array.from({ length: N }, (_, i) => `a${i}`),
    ...Array.from({ length: N }, (_, i) => `b${i}`),
  ];
  assert.deepEqual([...texts].sort(), [...expected].sort(), 'every message exactly once');
  assert.deepEqual(seenA.map(textOf), texts, "a's watcher: the log's order, once each");
  assert.deepEqual(seenB.map(textOf), texts, "b's watcher: the log's order, once each");
  // Per sender, in the order sent.
  for (const tag of ['a', 'b']) {
    const mine = texts.filter((x) => x.startsWith(tag));
    assert.deepEqual(
      mine,
      expected.filter((x) => x.startsWith(tag)),
    );
  }
});
