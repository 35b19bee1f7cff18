/**
 * Open rooms created on two daemons at the same moment, on a real nats-server: the record is
 * a compare-and-set, so of two creations of one name exactly one is recorded and the other
 * daemon adopts it (its creator is refused as if the other creation had come first on its
 * own daemon), never two rooms under one name. Raced many times, on the directory itself
 * and through two daemons with clients creating at once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import type { OpenRoomEntry } from '../../lib/rooms/seam.js';
import { joinAs, startDaemon } from '../helpers/daemon.js';
import { testStore } from '../helpers/jetstream.js';
import { skipWithoutNats, startNatsServer } from '../helpers/nats.js';
import { waitFor } from '../helpers/raw-client.js';
import { teardown } from '../helpers/teardown.js';

const PW = 'correct horse battery staple';
const RACES = 40;

function entry(): OpenRoomEntry {
  const b64 = (): string => randomBytes(16).toString('base64');
  return { salt: b64(), verifier: b64(), roomSalt: b64() };
}

test('two daemons record one open room at once: one entry, the other adopts it', async (t) => {
  if (skipWithoutNats(t)) return;
  const defer = teardown(t);
  const server = await startNatsServer({ jetstream: true });
  defer(() => server.stop());
  const keys = deriveClusterKeys(randomBytes(32));
  const a = await testStore([server.url], keys);
  defer(() => a.close());
  const b = await testStore([server.url], keys);
  defer(() => b.close());
  const seen = [new Map<string, OpenRoomEntry | undefined>(), new Map<string, OpenRoomEntry | undefined>()];
  a.store.openRooms.watch((name, e) => seen[0]!.set(name, e));
  b.store.openRooms.watch((name, e) => seen[1]!.set(name, e));

  for (let i = 0; i < RACES; i++) {
    const name = `race-${i}`;
    const mine = [entry(), entry()];
    const answers = await Promise.all([
      a.store.openRooms.announce(name, mine[0]!),
      b.store.openRooms.announce(name, mine[1]!),
    ]);
    const recorded = answers.flatMap((answer, j) => (answer === undefined ? [j] : []));
    assert.equal(recorded.length, 1, `${name}: exactly one creation recorded`);
    const winner = mine[recorded[0]!]!;
    const loser = answers[1 - recorded[0]!];
    assert.deepEqual(loser, winner, `${name}: the other daemon is given the recorded room`);
  }
  await waitFor(() => seen.every((m) => m.size === RACES), 'both watches saw every room');
  assert.deepEqual([...seen[0]!.entries()].sort(), [...seen[1]!.entries()].sort(), 'one directory');

  // A withdrawn name is free again: the next creation is recorded.
  await a.store.openRooms.withdraw('race-0');
  assert.equal(await b.store.openRooms.announce('race-0', entry()), undefined);
});

test('clients creating one open room on two daemons at once end in one room', async (t) => {
  if (skipWithoutNats(t)) return;
  const defer = teardown(t);
  const server = await startNatsServer({ jetstream: true });
  defer(() => server.stop());
  const keys = deriveClusterKeys(randomBytes(32));
  const stores = [];
  for (let i = 0; i < 2; i++) {
    const s = await testStore([server.url], keys);
    defer(() => s.close());
    stores.push(s);
  }
  // Every client comes from 127.0.0.1: per-source limits high enough for the races.
  const limits = { maxRoomsPerSource: 1000, handshakeBurstPerSource: 1000, joinBurstPerSource: 1000 };
  const daemons = [];
  for (const s of stores) {
    const d = await startDaemon({}, { store: s.store, openRooms: true, limits });
    defer(() => d.stop());
    daemons.push(d);
  }
  const [da, db] = daemons as [(typeof daemons)[0], (typeof daemons)[0]];

  const refused: string[] = [];
  for (let i = 0; i < 8; i++) {
    const room = `together-${i}`;
    const results = await Promise.allSettled([
      joinAs(da, room, PW, 'ann', { create: true }),
      joinAs(db, room, PW, 'bea', { create: true }),
    ]);
    const sessions = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const r of results) {
      if (r.status === 'rejected') refused.push(`${room}: ${(r.reason as Error).message}`);
    }
    assert.ok(sessions.length >= 1, `${room}: one creation at least succeeds (${refused.join('; ')})`);
    // One room: both daemons hold the same credentials under the name.
    await waitFor(() => da.registry.get(room) !== undefined && db.registry.get(room) !== undefined, room);
    assert.ok(
      da.registry.get(room)!.credentials.salt.equals(db.registry.get(room)!.credentials.salt),
      `${room}: the same room on both daemons`,
    );
    // Whoever was told the room is made, is in it with the others, and the refused one joins it.
    if (sessions.length === 1) {
      const late =
        results[0]!.status === 'rejected' ? joinAs(da, room, PW, 'ann') : joinAs(db, room, PW, 'bea');
      sessions.push(await late);
    }
    for (const session of sessions) {
      await waitFor(() => session.memberList().length === 2, `${room}: both creators in one room`);
    }
    await Promise.all(sessions.map((s) => s.close()));
  }
  for (const reason of refused)
    assert.match(reason, /auth|password/i, 'a refused creator is told as for a taken name');
});
