/**
 * Room name tables on a real nats-server's KV (memory storage): two daemons claiming one name
 * at once, one wins; every write is a compare-and-set on the revision; a killed daemon's
 * present names become held once its lease lapses on the server (a survivor does it), and
 * the hold then expires by the server's clock; a living daemon's names stay; an owner takes
 * its held name back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { bucketNames, deriveClusterKeys } from '../../lib/cluster/keys.js';
import type { NameChange, NameRecord } from '../../lib/rooms/seam.js';
import { type TestStore, testStore } from '../helpers/jetstream.js';
import { type NatsServer, skipWithoutNats, startNatsServer } from '../helpers/nats.js';
import { waitFor } from '../helpers/raw-client.js';
import { teardown } from '../helpers/teardown.js';

function record(username: string, owner = 'o'.repeat(64), state: 'present' | 'held' = 'present'): NameRecord {
  return { username, userId: randomBytes(4).toString('hex'), owner, source: '127.0.0.0/24', state };
}

async function setup(
  t: { skip(m: string): void; after(fn: () => Promise<void>): void },
  n: number,
  options: { leaseMs?: number; holdMs?: number } = {},
): Promise<{ server: NatsServer; daemons: TestStore[] } | undefined> {
  if (skipWithoutNats(t)) return undefined;
  const defer = teardown(t);
  const server = await startNatsServer({ jetstream: true });
  defer(() => server.stop());
  const keys = deriveClusterKeys(randomBytes(32));
  const daemons = await Promise.all(
    Array.from({ length: n }, async () => {
      const d = await testStore([server.url], keys, options);
      defer(() => d.close());
      return d;
    }),
  );
  return { server, daemons };
}

test('two daemons claiming the same names at once: exactly one wins each, and both read the winner', async (t) => {
  const s = await setup(t, 2);
  if (!s) return;
  const [a, b] = await Promise.all(s.daemons.map(async (d) => (await d.store.open('room')).names));
  for (let i = 0; i < 20; i++) {
    const key = `name${i}`;
    const [ra, rb] = await Promise.all([a!.create(key, record(`a${i}`)), b!.create(key, record(`b${i}`))]);
    assert.equal([ra, rb].filter((r) => r !== undefined).length, 1, `one claim of ${key} won`);
    const winner = ra !== undefined ? `a${i}` : `b${i}`;
    assert.equal((await a!.get(key))?.record.username, winner);
    assert.equal((await b!.get(key))?.record.username, winner);
  }
  assert.equal((await a!.list()).length, 20);
});

test('compare-and-set: a stale revision changes nothing; watchers see puts and releases in order', async (t) => {
  const s = await setup(t, 2);
  if (!s) return;
  const [a, b] = await Promise.all(s.daemons.map(async (d) => (await d.store.open('room')).names));
  const changes: NameChange[] = [];
  b!.watch((c) => changes.push(c));
  const r1 = await a!.create('alice', record('alice'));
  assert.ok(r1);
  assert.equal(await a!.create('alice', record('alice')), undefined, 'taken');
  const r2 = await a!.update('alice', record('Alice'), r1);
  assert.ok(r2 && r2 > r1);
  assert.equal(await b!.update('alice', record('mallory'), r1), undefined, 'stale revision');
  assert.equal(await b!.remove('alice', r1), false, 'stale revision');
  assert.equal((await b!.get('alice'))?.record.username, 'Alice');
  assert.equal(await b!.remove('alice', r2), true);
  await waitFor(() => changes.length === 3, 'three changes');
  assert.deepEqual(
    changes.map((c) => (c.op === 'put' ? `put ${c.entry.record.username}` : `delete ${c.key} ${c.why}`)),
    ['put alice', 'put Alice', 'delete alice released'],
  );
  assert.ok(await b!.create('alice', record('alice')), 'a released name can be claimed again');
});

test("a killed daemon's names: held by a survivor once its lease lapses on the server, then expired", async (t) => {
  const s = await setup(t, 3, { leaseMs: 600, holdMs: 1500 });
  if (!s) return;
  const [dead, survivor, living] = s.daemons;
  const [nd, ns, nl] = await Promise.all(s.daemons.map(async (d) => (await d.store.open('room')).names));
  const changes: NameChange[] = [];
  ns!.watch((c) => changes.push(c));
  assert.ok(await nd!.create('bob', record('bob', 'b'.repeat(64))));
  assert.ok(await nl!.create('carol', record('carol')));
  await waitFor(() => changes.length === 2, 'both claims seen');
  await dead!.die();
  const t0 = performance.now();
  await waitFor(
    () => changes.some((c) => c.op === 'put' && c.entry.key === 'bob' && c.entry.record.state === 'held'),
    "bob held after its daemon's lease lapsed",
  );
  const heldAfter = performance.now() - t0;
  assert.ok(heldAfter >= 500, `not before the lease could lapse (${Math.round(heldAfter)} ms)`);
  const held = await ns!.get('bob');
  assert.equal(
    held?.record.owner,
    'b'.repeat(64),
    'the hold keeps the owner: only its resume secret takes it back',
  );
  await waitFor(
    () => changes.some((c) => c.op === 'delete' && c.key === 'bob' && c.why === 'expired'),
    'the hold expired',
  );
  assert.equal(await ns!.get('bob'), undefined);
  // A living daemon's name stayed present all along.
  assert.equal((await ns!.get('carol'))?.record.state, 'present');
  assert.ok(!changes.some((c) => c.op === 'delete' && c.key === 'carol'));
  assert.ok(survivor && living);
});

test('a held name is taken back by its owner before it expires, and is not expired afterwards', async (t) => {
  const s = await setup(t, 2, { leaseMs: 600, holdMs: 1200 });
  if (!s) return;
  const [a, b] = await Promise.all(s.daemons.map(async (d) => (await d.store.open('room')).names));
  const owner = 'd'.repeat(64);
  const r1 = await a!.create('dave', record('dave', owner));
  assert.ok(r1);
  const r2 = await a!.hold('dave', { ...record('dave', owner), state: 'held' }, r1, 1200);
  assert.ok(r2);
  const r3 = await b!.update('dave', record('dave', owner), r2);
  assert.ok(r3, 'resumed on another daemon');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const now = await a!.get('dave');
  assert.deepEqual([now?.record.state, now?.revision], ['present', r3], 'still present after the hold time');
});

test('a daemon whose lease lapsed (cut off longer than the lease) learns it at its next renewal', async (t) => {
  if (skipWithoutNats(t)) return;
  const defer = teardown(t);
  const server = await startNatsServer({ jetstream: true });
  defer(() => server.stop());
  const keys = deriveClusterKeys(randomBytes(32));
  const runId = randomBytes(16).toString('hex');
  let lapsed = 0;
  const daemon = await testStore([server.url], keys, { runId, leaseMs: 600, onLapsed: () => lapsed++ });
  defer(() => daemon.close());
  const nc = await connect({ servers: [server.url] });
  defer(() => nc.close());
  const leases = await new Kvm(nc).open(bucketNames(keys).leases);
  assert.equal((await leases.get(`d${runId}`))?.operation, 'PUT', 'the lease exists');
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(lapsed, 0, 'renewed in time: no lapse');
  // What the bucket's TTL does to a daemon that was cut off: the key is gone.
  await leases.purge(`d${runId}`);
  await waitFor(() => lapsed === 1, 'the lapse noticed at the next renewal');
  assert.equal((await leases.get(`d${runId}`))?.operation, 'PUT', 'a new lease');
});
