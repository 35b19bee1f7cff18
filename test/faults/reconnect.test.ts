/**
 * Sessions that survive the network, in process (the library's view) behind the fault
 * proxy: a cut link is repaired under the same name, what was missed is shown once and set
 * apart, lines queued meanwhile go after rejoining, a resend whose echo was lost is relayed
 * once (the daemon recognises it), a name held for a lost member cannot be taken by anyone
 * without its resume secret, a member whose old connection the daemon still holds takes
 * its name back, and a daemon that keeps refusing or dropping the session is given up on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { ChatSession, type SessionError, type SessionOptions } from '../../lib/client/session/session.js';
import { openEnvelope } from '../../lib/crypto/envelope.js';
import type { DaemonLimits } from '../../lib/protocol/limits.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { joinAs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { EventLog, isMessage } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { type RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';
import { initFor, startScriptedDaemon } from '../helpers/scripted-daemon.js';

const PW = 'reconnect-password';
const FAST = { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: 0 };

function viaProxy(proxy: FaultProxy): { transport: ReturnType<typeof tcpClient> } {
  return { transport: tcpClient({ host: '127.0.0.1', port: proxy.port }) };
}

/** The bodies of the room's history as a newcomer's raw client reads them (duplicates included). */
async function historyBodies(d: TestDaemon, name: string): Promise<string[]> {
  const raw = await rawAuthenticated(d.port, 'chat', PW);
  try {
    const init = await raw.join(name);
    assert.equal(init.type, 'init');
    const messages = init.messages as Array<{ text: string }>;
    return messages.map((m) => openEnvelope(raw.fernet!, m.text).body);
  } finally {
    raw.destroy();
  }
}

/**
 * A daemon with `limits`, the fault proxy in front of it, alice joined through the proxy
 * (reconnecting as `reconnect` says) and bob directly, with their event logs; `stop` closes
 * them all.
 */
async function aliceBehindProxy(limits: Partial<DaemonLimits>, reconnect: SessionOptions['reconnect']) {
  const d = await startDaemon({ chat: PW }, { limits });
  const proxy = await FaultProxy.start(d.port);
  const alice = await joinAs(d, 'chat', PW, 'alice', { ...viaProxy(proxy), reconnect });
  const bob = await joinAs(d, 'chat', PW, 'bob');
  const stop = async (): Promise<void> => {
    await alice.close();
    await bob.close();
    await proxy.stop();
    await d.stop();
  };
  return { d, proxy, alice, bob, aliceLog: new EventLog(alice), bobLog: new EventLog(bob), stop };
}

/** The error `session` ends with (undefined: closed by us), once it ends. */
function endOf(session: ChatSession): Promise<SessionError | undefined> {
  return new Promise((resolve) => session.once('close', resolve));
}

/** alice's session (authenticated, not joined) to the scripted daemon on `port`. */
function scriptedAlice(port: number, reconnect: SessionOptions['reconnect']): Promise<ChatSession> {
  return ChatSession.open({
    transport: tcpClient({ host: '127.0.0.1', port }),
    room: 'chat',
    password: PW,
    username: 'alice',
    reconnect,
  });
}

function types(events: ChatEvent[]): string[] {
  return events.map((e) => e.type);
}

test('a cut link: the session rejoins under its own name, shows what it missed once, then sends what was queued', async () => {
  const { d, proxy, alice, bob, aliceLog, bobLog, stop } = await aliceBehindProxy(
    { resumeGraceMs: 10_000 },
    FAST,
  );
  try {
    alice.send('before the cut');
    await bobLog.waitFor(isMessage('before the cut'), 'the first message');
    await aliceLog.waitFor(isMessage('before the cut'), "alice's echo");
    // Nothing reaches alice any more, then the link goes: bob's line is in the history only.
    proxy.pause('down', true);
    bob.send('said while alice was away');
    await bobLog.waitFor(isMessage('said while alice was away'), "bob's echo");
    proxy.refuse(true);
    proxy.cut();
    proxy.pause('down', false);
    await aliceLog.waitFor((e) => e.type === 'disconnected', 'disconnected');
    await aliceLog.waitFor((e) => e.type === 'reconnecting', 'reconnecting');
    assert.equal(alice.isClosed, false);
    assert.equal(alice.isConnected, false);
    // Typed while disconnected: queued, not refused.
    alice.send('typed while away');
    assert.equal(alice.unechoedCount, 1);
    proxy.refuse(false);
    const back = await aliceLog.waitFor((e) => e.type === 'reconnected', 'reconnected', 15_000);
    // The daemon numbers the room's events: what alice missed follows from its log, counted
    // exactly by the init's head.
    assert.equal(back.type === 'reconnected' && back.missed, 1);
    await bobLog.waitFor(isMessage('typed while away'), 'the queued line');
    await aliceLog.waitFor(isMessage('typed while away'), "the queued line's echo");
    assert.equal(alice.me.username, 'alice');
    assert.ok(
      alice.memberList().some((m) => m.username === 'alice' && m.user_id === alice.me.user_id),
      'alice is in the room under her name',
    );
    // Missed: bob's line once, handed from the room's log right after `reconnected`, before the queued line.
    const after = aliceLog.events.slice(aliceLog.events.indexOf(back));
    assert.deepEqual(
      after.filter((e) => e.type === 'message').map((e) => e.type === 'message' && [e.body, e.history]),
      [
        ['said while alice was away', true],
        ['typed while away', false],
      ],
    );
    assert.equal(aliceLog.bodies().filter((b) => b === 'before the cut').length, 1);
    assert.deepEqual(
      bobLog.bodies().filter((b) => b !== 'said while alice was away'),
      ['before the cut', 'typed while away'],
    );
    assert.deepEqual(await historyBodies(d, 'carol'), [
      'before the cut',
      'said while alice was away',
      'typed while away',
    ]);
    assert.ok(types(aliceLog.events).includes('reconnecting'));
  } finally {
    await stop();
  }
});

test('a message whose echo was lost is sent again and relayed once: the daemon recognises the resend', async () => {
  // No history: the resend is the only way the message can be confirmed after the cut.
  const { proxy, alice, bob, aliceLog, bobLog, stop } = await aliceBehindProxy(
    { resumeGraceMs: 10_000, historySize: 0 },
    FAST,
  );
  try {
    proxy.pause('down', true); // the echo will never reach alice
    alice.send('echo lost');
    await bobLog.waitFor(isMessage('echo lost'), 'the message at bob');
    assert.equal(alice.unechoedCount, 1);
    proxy.cut();
    proxy.pause('down', false);
    await aliceLog.waitFor((e) => e.type === 'reconnected', 'reconnected', 15_000);
    await aliceLog.waitFor(isMessage('echo lost'), 'alice sees her message (confirmed by the daemon)');
    await waitFor(() => alice.unechoedCount === 0, 'nothing left unconfirmed');
    bob.send('marker');
    await bobLog.waitFor(isMessage('marker'), 'marker');
    await aliceLog.waitFor(isMessage('marker'), 'marker at alice');
    assert.deepEqual(bobLog.bodies(), ['echo lost', 'marker']);
    assert.deepEqual(aliceLog.bodies(), ['echo lost', 'marker']);
  } finally {
    await stop();
  }
});

test("a stranger or another member cannot take a lost member's name during the grace; afterwards it is free", async () => {
  // alice does not come back: her name is held for the grace, then released.
  const { d, proxy, alice, bob, bobLog, stop } = await aliceBehindProxy({ resumeGraceMs: 1500 }, false);
  const ended = endOf(alice);
  // The stranger's handshake comes first: on a loaded machine it alone can outlast the grace.
  let stranger: RawClient | undefined;
  try {
    stranger = await rawAuthenticated(d.port, 'chat', PW);
    proxy.cut();
    await ended;
    await bobLog.waitFor((e) => e.type === 'leave' && e.username === 'alice', 'alice leaves');
    const lostAt = Date.now();
    for (const attempt of [
      { type: 'join', username: 'alice' },
      { type: 'join', username: 'ALICE' },
      { type: 'join', username: 'alice', resume: Buffer.alloc(32, 7).toString('base64url') },
      { type: 'join', username: 'alice', resume: '' },
    ]) {
      stranger.sendFrame(attempt);
      const answer = await stranger.nextFrameWhere((f) => f.type === 'error' || f.type === 'init');
      assert.equal(answer.type, 'error', JSON.stringify(attempt));
      assert.equal(answer.code, 'name_taken', JSON.stringify(attempt));
    }
    // bob (a member) cannot rename to it either.
    await assert.rejects(bob.nick('alice'), (e: SessionError) => e.code === 'name_taken');
    assert.ok(Date.now() - lostAt < 1500, 'the refusals came within the grace');
    // After the grace the name is free again.
    await waitFor(() => Date.now() - lostAt > 1700, 'the grace to pass', 5000);
    stranger.sendFrame({ type: 'join', username: 'alice' });
    const init = await stranger.nextFrameWhere((f) => f.type === 'error' || f.type === 'init');
    assert.equal(init.type, 'init');
  } finally {
    stranger?.destroy();
    await stop();
  }
});

test('a member takes its name back while the daemon still holds its old connection; the old one is closed', async () => {
  const { d, proxy, alice, aliceLog, bobLog, stop } = await aliceBehindProxy({ resumeGraceMs: 10_000 }, FAST);
  try {
    const oldId = alice.me.user_id;
    // The client's side goes, the daemon's stays open: the daemon has not noticed anything.
    proxy.refuse(true);
    proxy.abandon();
    await aliceLog.waitFor((e) => e.type === 'disconnected', 'disconnected');
    assert.equal(d.daemon.stats().members, 2, 'the daemon still counts the old connection');
    // Meanwhile nobody else gets the name, with or without a guessed secret.
    const stranger = await rawAuthenticated(d.port, 'chat', PW);
    stranger.sendFrame({
      type: 'join',
      username: 'alice',
      resume: Buffer.alloc(32, 1).toString('base64url'),
    });
    const refused = await stranger.nextFrameWhere((f) => f.type === 'error' || f.type === 'init');
    assert.equal(refused.code, 'name_taken');
    stranger.destroy();
    proxy.refuse(false);
    await aliceLog.waitFor((e) => e.type === 'reconnected', 'reconnected', 15_000);
    assert.equal(alice.me.username, 'alice');
    assert.notEqual(alice.me.user_id, oldId);
    await bobLog.waitFor((e) => e.type === 'leave' && e.userId === oldId, 'the old connection leaves');
    await waitFor(() => d.daemon.stats().members === 2, 'two members: the old connection is gone');
    alice.send('it is me again');
    const got = await bobLog.waitFor(isMessage('it is me again'), 'the message');
    assert.ok(got.type === 'message' && got.username === 'alice' && got.signature === 'valid');
  } finally {
    await stop();
  }
});

test('with reconnect off the session ends at the first loss (the old behaviour)', async () => {
  const d = await startDaemon({ chat: PW });
  const proxy = await FaultProxy.start(d.port);
  const alice = await joinAs(d, 'chat', PW, 'alice', { ...viaProxy(proxy), reconnect: false });
  try {
    const ended = endOf(alice);
    proxy.cut();
    const error = await ended;
    assert.equal(error?.code, 'connection_lost');
  } finally {
    await proxy.stop();
    await d.stop();
  }
});

test('giving up: after the attempts allowed the session ends with connection_lost', async () => {
  const d = await startDaemon({ chat: PW });
  const proxy = await FaultProxy.start(d.port);
  const alice = await joinAs(d, 'chat', PW, 'alice', {
    ...viaProxy(proxy),
    reconnect: { initialDelayMs: 50, maxDelayMs: 100, maxAttempts: 3 },
  });
  const log = new EventLog(alice);
  try {
    const ended = endOf(alice);
    proxy.refuse(true);
    proxy.cut();
    const error = await ended;
    assert.equal(error?.code, 'connection_lost');
    assert.match(error?.message ?? '', /gave up reconnecting after 3 attempts/);
    assert.equal(log.events.filter((e) => e.type === 'reconnecting').length, 3);
  } finally {
    await proxy.stop();
    await d.stop();
  }
});

test('a daemon that admits the session and drops it at once, each time: the attempts add up and the session gives up', async () => {
  let joins = 0;
  const daemon = await startScriptedDaemon(PW, (frame, peer) => {
    if (frame.type !== 'join') return;
    joins++;
    peer.send(initFor(String(frame.username)));
    setTimeout(() => peer.destroy(), 20);
  });
  try {
    const alice = await scriptedAlice(daemon.port, { initialDelayMs: 20, maxDelayMs: 40, maxAttempts: 4 });
    const ended = endOf(alice);
    await alice.join('alice');
    const error = await ended;
    assert.equal(error?.code, 'connection_lost');
    assert.match(error?.message ?? '', /gave up reconnecting after 4 attempts/);
    // The first join and one rejoin per attempt, never more.
    assert.ok(joins <= 5, `${joins} joins`);
  } finally {
    await daemon.stop();
  }
});

test('an error the daemon reports right before closing ends the session: reconnecting would be refused again', async () => {
  let joins = 0;
  const daemon = await startScriptedDaemon(PW, (frame, peer) => {
    if (frame.type === 'join') {
      joins++;
      peer.send(initFor(String(frame.username)));
    }
    if (frame.type === 'message') {
      peer.send({ type: 'error', code: 'too_large', message: 'x' });
      setTimeout(() => peer.destroy(), 50);
    }
  });
  try {
    const alice = await scriptedAlice(daemon.port, FAST);
    const ended = endOf(alice);
    await alice.join('alice');
    alice.send('too much');
    const error = await ended;
    assert.equal(error?.daemonCode, 'too_large');
    assert.equal(joins, 1);
  } finally {
    await daemon.stop();
  }
});
