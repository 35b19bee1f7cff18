/**
 * Faults of a cluster of real daemons over a real nats-server (JetStream on memory): a daemon
 * SIGKILLed under its members takes only them (its lease lapses on the server's clock and the
 * others hold its members' names: they see them leave within the lease bound), and the room's
 * log goes on without it; a daemon stopped with SIGTERM holds its members' names at once;
 * nats-server killed and restarted under traffic (its memory streams are gone: the logs start
 * a new epoch, members claim their names again, and every message sent from then on reaches
 * everyone); a daemon started later reads a room's history and members from the log.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { clusterForTest, member, memberNames, waitForPresence } from '../helpers/cluster.js';
import { isMessage } from '../helpers/events.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'correct horse battery staple';
const isLeave = (name: string) => (e: ChatEvent) => e.type === 'leave' && e.username === name;
/** Heartbeat of the test clusters is 0.2 s: a lease of 0.6 s, missed by two sweeps 0.3 s apart. */
const LEAVE_BOUND_MS = 3_000;
const ROOM = ['--room', `room=${PW}`];

test('a SIGKILLed daemon takes only its own members; the room goes on without it', async (t) => {
  const cluster = await clusterForTest(t, 3, ROOM);
  if (!cluster) return;
  const [a, b, c] = cluster.daemons;
  const onA = await member(a, 'room', PW, 'ann');
  const onB = await member(b, 'room', PW, 'bea');
  const onC = await member(c, 'room', PW, 'cid');
  await waitForPresence([onA, onB, onC], 3);

  // Killing B removes bea only.
  const killedAt = Date.now();
  await b.stop('SIGKILL');
  await onA.log.waitFor(isLeave('bea'), 'bea leaving, seen on A', LEAVE_BOUND_MS + 5_000);
  const seenAfter = Date.now() - killedAt;
  await onC.log.waitFor(isLeave('bea'), 'bea leaving, seen on C', LEAVE_BOUND_MS);
  assert.ok(seenAfter < LEAVE_BOUND_MS, `leave seen after ${seenAfter} ms`);
  assert.deepEqual(memberNames(onA), ['ann', 'cid']);
  onA.session.send('after B died');
  await onC.log.waitFor(isMessage('after B died'), 'A to C without B');

  // Killing A leaves C alone; C keeps its member, and the log its history.
  await a.stop('SIGKILL');
  await onC.log.waitFor(isLeave('ann'), 'ann leaving, seen on C', LEAVE_BOUND_MS + 5_000);
  assert.deepEqual(memberNames(onC), ['cid']);
  const d = await cluster.addDaemon();
  const onD = await member(d, 'room', PW, 'dot');
  await onC.log.waitFor(
    (e) => e.type === 'join' && e.username === 'dot',
    'dot joining through the new daemon',
  );
  assert.ok(onD.history.includes('after B died'), 'the room history survived both deaths');
  onD.session.send('to the survivor');
  await onC.log.waitFor(isMessage('to the survivor'), 'D to C');
  await Promise.all([onC.session.close(), onD.session.close()]);
  await onA.session.close().catch(() => {});
  await onB.session.close().catch(() => {});
});

test('a daemon stopped with SIGTERM: its members are held at once, the room goes on', async (t) => {
  // A long heartbeat: only the daemon's own hold can make the others see it at once.
  const cluster = await clusterForTest(t, 2, [...ROOM, '--cluster-heartbeat', '10']);
  if (!cluster) return;
  const [a, b] = cluster.daemons;
  const onA = await member(a, 'room', PW, 'ann');
  const onB = await member(b, 'room', PW, 'bea');
  await waitFor(() => onB.session.memberList().length === 2, 'bea sees ann');
  onA.session.send('before the stop');
  await onB.log.waitFor(isMessage('before the stop'), 'A to B');
  const stoppedAt = Date.now();
  assert.equal(await a.stop('SIGTERM'), 0);
  await onB.log.waitFor(isLeave('ann'), 'ann leaving, seen on B', 15_000);
  assert.ok(Date.now() - stoppedAt < 15_000, 'well before its lease ends (30 s)');
  const late = await member(b, 'room', PW, 'late');
  assert.deepEqual(late.history, ['before the stop']);
  onB.session.send('after the stop');
  await late.log.waitFor(isMessage('after the stop'), 'B alone keeps the room');
  await Promise.all([onB.session.close(), late.session.close(), onA.session.close().catch(() => {})]);
});

test('nats-server killed and restarted under traffic: names claimed again, every later message reaches everyone', async (t) => {
  const cluster = await clusterForTest(t, 2, ROOM);
  if (!cluster) return;
  const [a, b] = cluster.daemons;
  const a1 = await member(a, 'room', PW, 'a1');
  const a2 = await member(a, 'room', PW, 'a2');
  const b1 = await member(b, 'room', PW, 'b1');
  const b2 = await member(b, 'room', PW, 'b2');
  const all = [a1, a2, b1, b2];
  await waitForPresence(all, 4);

  // Traffic all along: each member sends a line every 20 ms.
  let n = 0;
  let running = true;
  const traffic = (async () => {
    while (running) {
      for (const m of all) m.session.send(`${m.name} ${n}`);
      n++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await new Promise((r) => setTimeout(r, 200));

  await cluster.nats.stop('SIGKILL');
  for (const d of [a, b])
    await waitFor(() => /lost the NATS server/.test(d.stderr()), 'the log says the bus is lost');
  await cluster.nats.restart();
  for (const d of [a, b])
    await waitFor(() => /NATS server back/.test(d.stderr()), 'the log says the bus is back');
  // The restarted server lost its memory streams and buckets: names are claimed again.
  await waitForPresence(all, 4, 15_000);

  // Once it is back, nothing is lost: every message sent from now on reaches every member.
  await new Promise((r) => setTimeout(r, 1000));
  const mark = n + 1;
  await new Promise((r) => setTimeout(r, 1000));
  running = false;
  await traffic;
  const last = n - 1;
  const expected: string[] = [];
  for (let i = mark; i <= last; i++) for (const m of all) expected.push(`${m.name} ${i}`);
  for (const m of all) {
    await m.log.waitFor(
      () => expected.every((body) => m.log.bodies().includes(body)),
      `all messages at ${m.name}`,
    );
  }
  // A late joiner gets the history of the new log: its last messages in the log's order, as
  // a member of the same daemon saw them. (Not simply both daemons' last lines: after the
  // restart one daemon's appends can land in a batch after the other's, more than a history
  // later.)
  const late = await member(b, 'room', PW, 'late');
  const seenOnB = b1.log.bodies();
  assert.ok(late.history.length > 0, 'the late joiner gets a history');
  assert.deepEqual(late.history, seenOnB.slice(-late.history.length));
  assert.ok(late.history.includes(seenOnB.at(-1)!), 'up to the last message');
  await Promise.all([...all, late].map((m) => m.session.close()));
});

test('a daemon started later reads the room from the log: its members and history', async (t) => {
  const cluster = await clusterForTest(t, 1, ['--room', `made-on-a=${PW}`]);
  if (!cluster) return;
  const owner = await member(cluster.daemons[0]!, 'made-on-a', PW, 'owner');
  owner.session.send('before the second daemon');
  await owner.log.waitFor(isMessage('before the second daemon'), 'the echo');
  const later = await cluster.addDaemon();
  const guest = await member(later, 'made-on-a', PW, 'guest');
  assert.deepEqual(guest.history, ['before the second daemon']);
  assert.deepEqual(memberNames(guest), ['guest', 'owner']);
  await owner.log.waitFor((e) => e.type === 'join' && e.username === 'guest', 'the guest seen by the owner');
  // A wrong password for that room on the new daemon fails like anywhere else.
  await assert.rejects(member(later, 'made-on-a', 'wrong password', 'intruder'), /auth/i);
  await Promise.all([owner.session.close(), guest.session.close()]);
});
