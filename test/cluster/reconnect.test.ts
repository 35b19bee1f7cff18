/**
 * Reconnects behind a cluster of real `serve --cluster` daemons over a real nats-server, the
 * client behind the fault proxy: a session cut from one daemon comes back through another
 * under its own name and its resend (echo lost) is relayed once and stored once on every
 * daemon; a lost member's name is held cluster-wide for the grace (no stranger takes it on
 * any daemon, then it is free); an old connection a daemon still holds is closed `replaced`
 * when its member resumes on another daemon; a held name survives the death of the daemon
 * that held it and is released by another once the grace has passed; under `serve --workers 2` a member whose worker is killed keeps
 * its name until it comes back through a worker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { ChatSession, type SessionError } from '../../lib/client/session/session.js';
import { newMessageId, openEnvelope, sealEnvelope } from '../../lib/crypto/envelope.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { member, skipWithoutNats, startCluster } from '../helpers/cluster.js';
import { within } from '../helpers/deadline.js';
import { EventLog, isMessage } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { type DaemonProcess, startDaemonProcess } from '../helpers/processes.js';
import { type RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';
import { connectionsByPid } from '../helpers/sockets.js';

const PW = 'correct horse battery staple';
const FAST = { initialDelayMs: 100, maxDelayMs: 300, maxAttempts: 0 };
const isLeave = (name: string) => (e: ChatEvent) => e.type === 'leave' && e.username === name;

/** Two daemons sharing the password room `chat`. */
async function twoDaemons(graceSeconds: number, extra: string[] = []) {
  const cluster = await startCluster(2, [
    '--room',
    `chat=${PW}`,
    '--resume-grace',
    String(graceSeconds),
    ...extra,
  ]);
  const [a, b] = cluster.daemons as [DaemonProcess, DaemonProcess];
  return { cluster, a, b };
}

/** A session through the proxy that reconnects (or not) by itself. */
async function viaProxy(proxy: FaultProxy, name: string, reconnect: typeof FAST | false) {
  const session = await ChatSession.open({
    transport: tcpClient({ host: '127.0.0.1', port: proxy.port }),
    room: 'chat',
    password: PW,
    username: name,
    reconnect,
  });
  const log = new EventLog(session);
  await session.join(name);
  return { session, log };
}

/**
 * alice joins through `proxy` (no reconnect), bob joins on `d` and sees her; the link is cut
 * and bob sees her leave. Returns bob and when that was (her name's grace starts then).
 */
async function aliceLost(proxy: FaultProxy, d: DaemonProcess) {
  const alice = await viaProxy(proxy, 'alice', false);
  const bob = await member(d, 'chat', PW, 'bob');
  await waitFor(() => bob.session.memberList().length === 2, 'bob sees alice');
  const ended = new Promise<SessionError | undefined>((resolve) => alice.session.once('close', resolve));
  proxy.cut();
  await within(ended, 10_000, "alice's session to close after the cut");
  await bob.log.waitFor(isLeave('alice'), 'alice leaves');
  return { bob, lostAt: Date.now() };
}

/** The bodies of the room's history as a newcomer on `d` reads them (duplicates included). */
async function historyOn(d: DaemonProcess, name: string): Promise<string[]> {
  const raw = await rawAuthenticated(d.port, 'chat', PW);
  try {
    const init = await raw.join(name);
    assert.equal(init.type, 'init', JSON.stringify(init));
    return (init.messages as Array<{ text: string }>).map((m) => openEnvelope(raw.fernet!, m.text).body);
  } finally {
    raw.destroy();
  }
}

/** What a join answers on a raw connection: `init`, or the error code. */
/**
 * Asks for a name until it is granted (`init`) or `withinMs` passes, and returns the last
 * answer: a hold ends on the NATS server's clock, and the survivors free the name when they
 * next sweep, a moment after the grace.
 */
async function joinOnceFree(raw: RawClient, username: string, withinMs = 10_000): Promise<string> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const answer = await joinAnswer(raw, { type: 'join', username });
    if (answer !== 'name_taken' || Date.now() > deadline) return answer;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function joinAnswer(raw: RawClient, frame: Record<string, unknown>): Promise<string> {
  raw.sendFrame(frame);
  const answer = await raw.nextFrameWhere((f) => f.type === 'error' || f.type === 'init');
  return answer.type === 'init' ? 'init' : String(answer.code);
}

/** The bodies of the messages relayed to a raw member, up to and with `last`. */
async function messagesUntil(raw: RawClient, last: string): Promise<string[]> {
  const bodies: string[] = [];
  await raw.nextFrameWhere((f) => {
    if (f.type !== 'message') return false;
    const body = openEnvelope(raw.fernet!, (f.data as { text: string }).text).body;
    bodies.push(body);
    return body === last;
  });
  return bodies;
}

const WRONG_SECRET = Buffer.alloc(32, 7).toString('base64url');

test('cut from daemon A, the session comes back through daemon B as itself; its resend is relayed once', async (t) => {
  if (skipWithoutNats(t)) return;
  // No history: the resend is the only way the message can be confirmed after the cut.
  const { cluster, a, b } = await twoDaemons(10, ['--history', '0']);
  const proxy = await FaultProxy.start(a.port);
  t.after(async () => {
    await proxy.stop();
    await cluster.stop();
  });
  const alice = await viaProxy(proxy, 'alice', FAST);
  t.after(() => alice.session.close());
  const bob = await member(b, 'chat', PW, 'bob');
  // A raw member counts the frames as relayed (a session would hide a replay it recognises).
  const carol = await rawAuthenticated(a.port, 'chat', PW);
  t.after(() => carol.destroy());
  assert.equal((await carol.join('carol')).type, 'init');
  await waitFor(() => bob.session.memberList().length === 3, 'bob sees alice and carol');
  const oldId = alice.session.me.user_id;

  proxy.pause('down', true); // the echo never reaches alice
  alice.session.send('echo lost');
  await bob.log.waitFor(isMessage('echo lost'), 'the message at bob');
  assert.equal(alice.session.unechoedCount, 1);
  // The link goes; the next one lands on the other daemon.
  proxy.retarget(b.port);
  proxy.cut();
  proxy.pause('down', false);
  await alice.log.waitFor((e) => e.type === 'reconnected', 'reconnected through B', 15_000);
  assert.equal(alice.session.me.username, 'alice');
  assert.notEqual(alice.session.me.user_id, oldId);
  await waitFor(() => alice.session.unechoedCount === 0, 'the resend confirmed');
  bob.session.send('marker');
  await alice.log.waitFor(isMessage('marker'), 'marker at alice');
  await bob.log.waitFor(isMessage('marker'), 'marker at bob');
  assert.deepEqual(bob.log.bodies(), ['echo lost', 'marker']);
  assert.deepEqual(alice.log.bodies(), ['echo lost', 'marker']);
  const relayed = await messagesUntil(carol, 'marker');
  assert.deepEqual(relayed, ['echo lost', 'marker']);
  assert.deepEqual(
    bob.session
      .memberList()
      .map((m) => m.username)
      .sort(),
    ['alice', 'bob', 'carol'],
  );
  await alice.session.close();
  await bob.session.close();
});

test("a resend on another daemon, twice over, is answered `received` and stored once in every daemon's history", async (t) => {
  if (skipWithoutNats(t)) return;
  const { cluster, a, b } = await twoDaemons(10);
  const raws: RawClient[] = [];
  t.after(async () => {
    for (const raw of raws) raw.destroy();
    await cluster.stop();
  });
  const bob = await member(a, 'chat', PW, 'bob');
  // The first connection, on B: the message goes, its echo is not read.
  const first = await rawAuthenticated(b.port, 'chat', PW);
  raws.push(first);
  const init = await first.join('alice');
  const token = sealEnvelope(first.fernet!, { from: '', kind: 'text', body: 'sent once' });
  const mid = newMessageId();
  first.sendFrame({ type: 'message', text: token, mid });
  await bob.log.waitFor(isMessage('sent once'), 'the message at bob');
  // Back through A with the secret: the old connection is replaced, the resend only confirmed.
  let secret = String(init.resume);
  for (const d of [a, b]) {
    const again = await rawAuthenticated(d.port, 'chat', PW);
    raws.push(again);
    again.sendFrame({ type: 'join', username: 'alice', resume: secret });
    const rejoined = await again.nextFrameWhere((f) => f.type === 'init' || f.type === 'error');
    assert.equal(rejoined.type, 'init', JSON.stringify(rejoined));
    secret = String(rejoined.resume);
    again.sendFrame({ type: 'message', text: token, mid });
    const answer = await again.nextFrameWhere((f) => f.type === 'received' || f.type === 'message');
    assert.deepEqual(answer, { type: 'received', mid });
    again.destroy();
  }
  first.destroy();
  bob.session.send('marker');
  await bob.log.waitFor(isMessage('marker'), 'marker');
  assert.deepEqual(bob.log.bodies(), ['sent once', 'marker']);
  assert.deepEqual(await historyOn(a, 'carol'), ['sent once', 'marker']);
  assert.deepEqual(await historyOn(b, 'dave'), ['sent once', 'marker']);
  await bob.session.close();
});

test("a lost member's name is held on every daemon of the cluster for the grace, then free", async (t) => {
  if (skipWithoutNats(t)) return;
  const GRACE_MS = 2000;
  const { cluster, a, b } = await twoDaemons(GRACE_MS / 1000);
  // Lost on B: B holds the name in the name bucket, where A sees it too.
  const proxy = await FaultProxy.start(b.port);
  const strangers = [await rawAuthenticated(a.port, 'chat', PW), await rawAuthenticated(b.port, 'chat', PW)];
  t.after(async () => {
    for (const s of strangers) s.destroy();
    await proxy.stop();
    await cluster.stop();
  });
  const { bob, lostAt } = await aliceLost(proxy, a);
  for (const [i, stranger] of strangers.entries()) {
    for (const attempt of [
      { type: 'join', username: 'alice' },
      { type: 'join', username: 'ALICE' },
      { type: 'join', username: 'alice', resume: WRONG_SECRET },
    ]) {
      assert.equal(
        await joinAnswer(stranger, attempt),
        'name_taken',
        `daemon ${i}: ${JSON.stringify(attempt)}`,
      );
    }
  }
  await assert.rejects(bob.session.nick('alice'), (e: SessionError) => e.code === 'name_taken');
  assert.ok(Date.now() - lostAt < GRACE_MS, 'the refusals came within the grace');
  await waitFor(() => Date.now() - lostAt > GRACE_MS, 'the grace to pass', GRACE_MS + 5000);
  assert.equal(await joinOnceFree(strangers[1]!, 'alice'), 'init');
  await bob.session.close();
});

test('an old connection daemon B still holds is closed `replaced` when its member resumes on daemon A', async (t) => {
  if (skipWithoutNats(t)) return;
  const { cluster, a, b } = await twoDaemons(10);
  const proxy = await FaultProxy.start(b.port);
  t.after(async () => {
    await proxy.stop();
    await cluster.stop();
  });
  const alice = await viaProxy(proxy, 'alice', FAST);
  t.after(() => alice.session.close());
  const bob = await member(a, 'chat', PW, 'bob');
  await waitFor(() => bob.session.memberList().length === 2, 'bob sees alice');
  const oldId = alice.session.me.user_id;
  // The client's side goes; B keeps its side open and has noticed nothing.
  proxy.refuse(true);
  proxy.abandon();
  await alice.log.waitFor((e) => e.type === 'disconnected', 'disconnected');
  // Meanwhile nobody else gets the name, on either daemon, even with a guessed secret.
  for (const d of [a, b]) {
    const stranger = await rawAuthenticated(d.port, 'chat', PW);
    try {
      assert.equal(
        await joinAnswer(stranger, { type: 'join', username: 'alice', resume: WRONG_SECRET }),
        'name_taken',
      );
    } finally {
      stranger.destroy();
    }
  }
  proxy.retarget(a.port);
  proxy.refuse(false);
  await alice.log.waitFor((e) => e.type === 'reconnected', 'reconnected through A', 15_000);
  assert.equal(alice.session.me.username, 'alice');
  assert.notEqual(alice.session.me.user_id, oldId);
  await bob.log.waitFor((e) => e.type === 'leave' && e.userId === oldId, 'the old connection leaves');
  await waitFor(
    () => /closed a connection: replaced/.test(b.stderr()),
    'B closed the old connection: replaced',
  );
  alice.session.send('it is me again');
  const got = await bob.log.waitFor(isMessage('it is me again'), 'the message');
  assert.ok(got.type === 'message' && got.username === 'alice' && got.signature === 'valid');
  await waitFor(() => bob.session.memberList().length === 2, 'two members: the old connection is gone');
  await alice.session.close();
  await bob.session.close();
});

test('a held name outlives the daemon that held it: the others keep it for the grace (server time), then free it', async (t) => {
  if (skipWithoutNats(t)) return;
  const GRACE_MS = 3000;
  const { cluster, a, b } = await twoDaemons(GRACE_MS / 1000);
  const proxy = await FaultProxy.start(b.port);
  const stranger = await rawAuthenticated(a.port, 'chat', PW);
  t.after(async () => {
    stranger.destroy();
    await proxy.stop();
    await cluster.stop();
  });
  const { bob, lostAt } = await aliceLost(proxy, a);
  // B held alice's name and dies: the hold lives in the name bucket, aged by the server.
  await b.stop('SIGKILL');
  assert.ok(Date.now() - lostAt < GRACE_MS - 500, 'B died within the grace');
  assert.equal(await joinAnswer(stranger, { type: 'join', username: 'alice' }), 'name_taken');
  await waitFor(() => Date.now() - lostAt > GRACE_MS, 'the grace to pass', GRACE_MS + 5000);
  assert.equal(await joinOnceFree(stranger, 'alice'), 'init');
  await bob.session.close();
});

test('serve --workers 2: a worker killed under a member, its name is held until it comes back through a worker', async (t) => {
  if (process.platform !== 'linux') return t.skip('reads /proc');
  if (skipWithoutNats(t)) return;
  const d = await startDaemonProcess([
    '--workers',
    '2',
    '--cluster-heartbeat',
    '0.2',
    '--resume-grace',
    '10',
    '--room',
    `chat=${PW}`,
  ]);
  const proxy = await FaultProxy.start(d.port);
  t.after(async () => {
    await proxy.stop();
    await d.stop('SIGKILL');
  });
  const alice = await viaProxy(proxy, 'alice', FAST);
  t.after(() => alice.session.close());
  const pids = [...d.stderr().matchAll(/worker \d+ \(pid (\d+)\) listening/g)].map((m) => Number(m[1]));
  assert.equal(pids.length, 2, d.stderr());
  const spread = connectionsByPid(d.port, pids);
  const victim = pids.find((pid) => (spread.get(pid) ?? []).length > 0);
  assert.ok(victim !== undefined, 'the worker serving alice');
  // Alice cannot come back yet; her worker dies, its lease lapses (0.6 s), the other holds her name.
  proxy.refuse(true);
  process.kill(victim, 'SIGKILL');
  await alice.log.waitFor((e) => e.type === 'disconnected', 'disconnected');
  await new Promise((r) => setTimeout(r, 1500));
  const stranger = await rawAuthenticated(d.port, 'chat', PW);
  try {
    assert.equal(await joinAnswer(stranger, { type: 'join', username: 'alice' }), 'name_taken');
  } finally {
    stranger.destroy();
  }
  proxy.refuse(false);
  await alice.log.waitFor((e) => e.type === 'reconnected', 'reconnected through a worker', 15_000);
  assert.equal(alice.session.me.username, 'alice');
});
