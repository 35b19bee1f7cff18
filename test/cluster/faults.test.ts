/**
 * Faults of a cluster of real daemons over a real nats-server: a daemon SIGKILLed under its
 * members takes only them (the others see them leave within the announcement bound, and a
 * dead sequencer is replaced); nats-server killed and restarted under traffic (daemons keep
 * serving their own members, say so in the log, and resynchronise presence and history once
 * it is back); a daemon started later learns the open rooms and their history.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { clusterForTest, member, memberNames, waitForPresence } from '../helpers/cluster.js';
import { isMessage } from '../helpers/events.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'correct horse battery staple';
const isLeave = (name: string) => (e: ChatEvent) => e.type === 'leave' && e.username === name;
/** Heartbeat of the test clusters is 0.2 s: dead after 0.6 s, noticed at the next tick. */
const LEAVE_BOUND_MS = 3_000;

test('a SIGKILLed daemon takes only its own members; a dead sequencer is replaced', async (t) => {
  const cluster = await clusterForTest(t, 3, ['--open-rooms']);
  if (!cluster) return;
  const [a, b, c] = cluster.daemons;
  const onA = await member(a, 'room', PW, 'ann', true);
  const onB = await member(b, 'room', PW, 'bea');
  const onC = await member(c, 'room', PW, 'cid');
  await waitForPresence([onA, onB, onC], 3);

  // B is not the sequencer: killing it removes bea only.
  const killedAt = Date.now();
  await b.stop('SIGKILL');
  await onA.log.waitFor(isLeave('bea'), 'bea leaving, seen on A', LEAVE_BOUND_MS + 5_000);
  const seenAfter = Date.now() - killedAt;
  await onC.log.waitFor(isLeave('bea'), 'bea leaving, seen on C', LEAVE_BOUND_MS);
  assert.ok(seenAfter < LEAVE_BOUND_MS, `leave seen after ${seenAfter} ms`);
  assert.deepEqual(memberNames(onA), ['ann', 'cid']);
  onA.session.send('after B died');
  await onC.log.waitFor(isMessage('after B died'), 'A to C without B');

  // A is the sequencer: killing it leaves C to sequence alone; C keeps its member and history.
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

test('the sequencer stopped with SIGTERM: its members leave at once, the other daemon takes over', async (t) => {
  // A long heartbeat: only the goodbye can make the failover quick.
  const cluster = await clusterForTest(t, 2, ['--open-rooms', '--cluster-heartbeat', '10']);
  if (!cluster) return;
  const [a, b] = cluster.daemons;
  const onA = await member(a, 'room', PW, 'ann', true);
  const onB = await member(b, 'room', PW, 'bea');
  await waitFor(() => onB.session.memberList().length === 2, 'bea sees ann');
  onA.session.send('before the stop');
  await onB.log.waitFor(isMessage('before the stop'), 'A to B');
  const stoppedAt = Date.now();
  assert.equal(await a.stop('SIGTERM'), 0);
  await onB.log.waitFor(isLeave('ann'), 'ann leaving, seen on B', 5_000);
  assert.ok(Date.now() - stoppedAt < 5_000, 'well before three heartbeats (30 s)');
  await waitFor(() => /this daemon now sequences the rooms/.test(b.stderr()), 'B takes over', 5_000);
  const late = await member(b, 'room', PW, 'late');
  assert.deepEqual(late.history, ['before the stop']);
  onB.session.send('after the stop');
  await late.log.waitFor(isMessage('after the stop'), 'B alone keeps the room');
  await Promise.all([onB.session.close(), late.session.close(), onA.session.close().catch(() => {})]);
});

test('nats-server killed and restarted under traffic: local members served, then everything resynchronised', async (t) => {
  const cluster = await clusterForTest(t, 2, ['--open-rooms']);
  if (!cluster) return;
  const [a, b] = cluster.daemons;
  const a1 = await member(a, 'room', PW, 'a1', true);
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
  // Each daemon serves its own members: the others left for them, their own neighbour is there.
  await waitFor(
    () => memberNames(a1).join() === 'a1,a2' && memberNames(b1).join() === 'b1,b2',
    'each side alone',
  );
  const during = `during the outage ${Date.now()}`;
  b1.session.send(during);
  await b2.log.waitFor(isMessage(during), 'a message between members of one daemon while NATS is down');

  await cluster.nats.restart();
  for (const d of [a, b])
    await waitFor(() => /NATS server back/.test(d.stderr()), 'the log says the bus is back');
  // Presence comes back for everyone.
  await waitForPresence(all, 4, 10_000);
  // What B's members said during the outage reaches A's members once NATS is back.
  await a1.log.waitFor(isMessage(during), 'the outage message, resent to A', 10_000);

  // Once it is back, nothing is lost: every message sent from now on reaches every member.
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
  // A late joiner gets the resynchronised history.
  const late = await member(b, 'room', PW, 'late');
  assert.ok(late.history.includes(`a1 ${last}`) && late.history.includes(`b1 ${last}`));
  await Promise.all([...all, late].map((m) => m.session.close()));
});

test('a daemon started later learns the open rooms, their members and history', async (t) => {
  const cluster = await clusterForTest(t, 1, ['--open-rooms']);
  if (!cluster) return;
  const owner = await member(cluster.daemons[0]!, 'made-on-a', PW, 'owner', true);
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
