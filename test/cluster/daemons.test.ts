/**
 * Daemons sharing rooms over a real nats-server, each a real `serve --cluster` process:
 * members connected to different daemons are in one room (messages, joins, leaves,
 * renames, wipes, private messages, cards, history for late joiners), in one order for
 * everyone (the room's JetStream log); names stay unique across the cluster under races
 * (compare-and-set in the name bucket); open rooms created on one daemon are joinable on
 * another, also on a daemon started later.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { roomEntry } from '../../lib/server/rooms.js';
import { clusterForTest, member, memberNames, waitForPresence } from '../helpers/cluster.js';
import { isMessage } from '../helpers/events.js';
import { RawClient, rawAuthenticated } from '../helpers/raw-client.js';

const PW = 'correct horse battery staple';
const isJoin = (name: string) => (e: ChatEvent) => e.type === 'join' && e.username === name;
const isLeave = (name: string) => (e: ChatEvent) => e.type === 'leave' && e.username === name;

test('members on two daemons share a room: messages, presence, renames, wipes, private messages, history', async (t) => {
  const cluster = await clusterForTest(t, 2, ['--room', `lobby=${PW}`]);
  if (!cluster) return;
  const [a, b] = cluster.daemons;

  const alice = await member(a, 'lobby', PW, 'alice');
  const bob = await member(b, 'lobby', PW, 'bob');
  await alice.log.waitFor(isJoin('bob'), 'bob joining, seen on A');
  assert.deepEqual(memberNames(bob), ['alice', 'bob']);
  // Cards crossed: bob can address alice privately and knows her key.
  assert.ok(
    bob.session.memberFingerprint(alice.session.memberList().find((m) => m.username === 'alice')!.user_id),
  );

  alice.session.send('hello from A');
  bob.session.send('hello from B');
  await bob.log.waitFor(isMessage('hello from A'), 'A to B');
  await alice.log.waitFor(isMessage('hello from B'), 'B to A');

  // A late joiner on B gets history that includes messages sent through A.
  const carol = await member(b, 'lobby', PW, 'carol');
  assert.deepEqual([...carol.history].sort(), ['hello from A', 'hello from B']);
  await bob.log.waitFor(isJoin('carol'), 'carol joining');

  await bob.session.nick('robert');
  await alice.log.waitFor((e) => e.type === 'rename' && e.new === 'robert', 'the rename on A');

  alice.session.sendPrivate('robert', 'psst from A');
  await bob.log.waitFor(
    (e) => e.type === 'private' && e.body === 'psst from A' && !e.mine,
    'the private message',
  );
  assert.ok(!carol.log.events.some((e) => e.type === 'private'), 'a private message reaches one member');

  bob.session.wipeHistory();
  await alice.log.waitFor((e) => e.type === 'cleared', 'the wipe on A');

  await carol.session.close();
  await alice.log.waitFor(isLeave('carol'), 'carol leaving, seen on A');
  // Unknown names get decoys alike on every daemon.
  assert.deepEqual(await probe(a.port, 'no-such-room'), await probe(b.port, 'no-such-room'));
  await Promise.all([alice.session.close(), bob.session.close()]);
});

test("one order of a room's messages for every member of three daemons", async (t) => {
  const cluster = await clusterForTest(t, 3, ['--room', `order=${PW}`]);
  if (!cluster) return;
  const [a, b, c] = cluster.daemons;
  const first = await member(a, 'order', PW, 'm0');
  const others = await Promise.all([
    member(b, 'order', PW, 'm1'),
    member(c, 'order', PW, 'm2'),
    member(c, 'order', PW, 'm3'),
  ]);
  const all = [first, ...others];
  await waitForPresence(all, 4);
  // Everyone sends at once, through three daemons.
  const PER = 30;
  for (let i = 0; i < PER; i++) for (const m of all) m.session.send(`${m.name}:${i}`);
  const total = PER * all.length;
  const ids = (m: (typeof all)[0]): string[] =>
    m.log.events.flatMap((e) => (e.type === 'message' && !e.history ? [e.id] : []));
  for (const m of all) {
    await m.log.waitFor(() => ids(m).length >= total, `all ${total} messages at ${m.name}`, 20_000);
  }
  const reference = ids(first);
  assert.equal(new Set(reference).size, total, 'no message twice');
  for (const m of others) assert.deepEqual(ids(m), reference, `${m.name} saw the order ${first.name} saw`);
  // A late joiner's history is in that order too.
  const late = await member(b, 'order', PW, 'late');
  const order = first.log.events.flatMap((e) => (e.type === 'message' ? [e.body] : []));
  assert.deepEqual(late.history, order.slice(-late.history.length));
  await Promise.all([...all, late].map((m) => m.session.close()));
});

test('two members taking one name at once on two daemons: exactly one gets it (100 tries)', async (t) => {
  // Three daemons; the racing pairs sit on two of them, the member who watches on the third.
  const cluster = await clusterForTest(t, 3, [
    '--room',
    `race=${PW}`,
    '--handshake-rate',
    '0',
    '--join-rate',
    '0',
    '--max-per-address',
    '1000',
    // Twenty handshakes at once on a loaded machine: scrypt alone may take seconds each.
    '--handshake-timeout',
    '60',
  ]);
  if (!cluster) return;
  const [a, b, c] = cluster.daemons;
  const keeper = await member(a, 'race', PW, 'keeper');
  const TRIES = 100;
  const LANES = 10;
  let winsB = 0;
  let winsC = 0;
  const lane = async (l: number): Promise<void> => {
    // A loser stays unjoined and races again; a winner is replaced by a new client.
    let onB: RawClient | undefined;
    let onC: RawClient | undefined;
    for (let i = l; i < TRIES; i += LANES) {
      [onB, onC] = await Promise.all([
        onB ?? rawAuthenticated(b.port, 'race', PW),
        onC ?? rawAuthenticated(c.port, 'race', PW),
      ]);
      const name = `alice${i}`;
      const [rb, rc] = await Promise.all([onB.join(name), onC.join(name)]);
      const won = [rb, rc].filter((f) => f.type === 'init').length;
      const lost = [rb, rc].filter((f) => f.type === 'error' && f.code === 'name_taken').length;
      assert.equal(won, 1, `try ${i}: exactly one join succeeds (${JSON.stringify([rb.type, rc.type])})`);
      assert.equal(lost, 1, `try ${i}: the other is told name_taken`);
      if (rb.type === 'init') {
        winsB++;
        onB.destroy();
        onB = undefined;
      } else {
        winsC++;
        onC.destroy();
        onC = undefined;
      }
    }
    onB?.destroy();
    onC?.destroy();
  };
  await Promise.all(Array.from({ length: LANES }, (_, l) => lane(l)));
  assert.equal(winsB + winsC, TRIES);
  // Every winner joined and left again; the room saw each name once.
  await keeper.log.waitFor(
    () =>
      keeper.log.events.filter((e) => e.type === 'join' && e.username.startsWith('alice')).length === TRIES,
    'a join per try',
    20_000,
  );
  const joined = keeper.log.events.flatMap((e) => (e.type === 'join' ? [e.username] : []));
  assert.equal(new Set(joined).size, joined.length, 'no name joined twice');
  await keeper.session.close();
});

/** The challenge a daemon answers to a probe of `room` (salt, room_salt), without the password. */
async function probe(port: number, room: string): Promise<{ salt: unknown; room_salt: unknown }> {
  const c = await RawClient.connect({ port });
  try {
    await c.handshake(room, 'not the password').catch(() => {});
    const challenge = JSON.parse(c.handshakeLines[0] ?? '{}') as Record<string, unknown>;
    return { salt: challenge.salt, room_salt: challenge.room_salt };
  } finally {
    c.destroy();
  }
}

test('the same --room and --rooms-file on every daemon: one room, one key; another password is another room', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-rooms-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rooms.jsonl');
  writeFileSync(file, `${JSON.stringify(await roomEntry('filed', PW))}\n`);
  const cluster = await clusterForTest(t, 2, ['--room', `team=${PW}`, '--rooms-file', file]);
  if (!cluster) return;
  const [a, b] = cluster.daemons;
  for (const room of ['team', 'filed']) {
    const x = await member(a, room, PW, 'xavier');
    const y = await member(b, room, PW, 'yvonne');
    assert.equal(x.session.fingerprint, y.session.fingerprint, `${room}: one fingerprint on both daemons`);
    x.session.send(`hello ${room}`);
    const got = await y.log.waitFor(isMessage(`hello ${room}`), `${room}: a readable message across daemons`);
    assert.ok(got.type === 'message' && !got.undecryptable);
    await Promise.all([x.session.close(), y.session.close()]);
  }
  // An unknown name looks the same on every daemon (decoys keyed by the cluster secret), as a real room does.
  assert.deepEqual(await probe(a.port, 'no-such-room'), await probe(b.port, 'no-such-room'));
  assert.deepEqual(await probe(a.port, 'filed'), await probe(b.port, 'filed'));
  // A daemon started with another password for a room has a room of its own under that
  // name (the store keys rooms by name and credentials): nothing crosses, not even names.
  const other = await cluster.addDaemon(['--room', 'team=another password', '--rooms-file', file]);
  const x = await member(a, 'team', PW, 'xavier');
  const z = await member(other, 'team', 'another password', 'xavier');
  z.session.send('not for the other team');
  x.session.send('for my team only');
  await z.log.waitFor(isMessage('not for the other team'), 'its own echo');
  await x.log.waitFor(isMessage('for my team only'), 'its own echo');
  assert.ok(!x.log.events.some(isMessage('not for the other team')));
  assert.ok(!z.log.events.some(isMessage('for my team only')));
  await Promise.all([x.session.close(), z.session.close()]);
});

test('open rooms created on one daemon are joined through another, also one started later', async (t) => {
  const cluster = await clusterForTest(t, 2, ['--open-rooms']);
  if (!cluster) return;
  const [a, b] = cluster.daemons;
  const rooms = Array.from({ length: 4 }, (_, i) => `fresh-${i}`);
  const creators = await Promise.all(rooms.map((room) => member(b, room, PW, 'maker', true)));
  creators[0]!.session.send('before the guests');
  await creators[0]!.log.waitFor(isMessage('before the guests'), 'the echo');
  const guests = await Promise.all(rooms.map((room) => member(a, room, PW, 'guest')));
  for (const [i, guest] of guests.entries()) {
    assert.deepEqual(memberNames(guest), ['guest', 'maker'], rooms[i]);
  }
  assert.deepEqual(guests[0]!.history, ['before the guests']);
  // A daemon started later knows them too; a wrong password there fails like anywhere else.
  const later = await cluster.addDaemon();
  const late = await member(later, 'fresh-0', PW, 'late');
  assert.deepEqual(late.history, ['before the guests']);
  await assert.rejects(member(later, 'fresh-1', 'wrong password', 'intruder'), /auth/i);
  await Promise.all([...creators, ...guests, late].map((m) => m.session.close()));
});
