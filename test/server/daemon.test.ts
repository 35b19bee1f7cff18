/**
 * End-to-end behaviour of the daemon with real sessions over TCP on an ephemeral port:
 * rooms, authentication errors, history, wipe, nick, presence, open rooms and shutdown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SessionError } from '../../lib/client/session/session.js';
import { joinAs, openSession, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { EventLog, isMessage } from '../helpers/events.js';

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<SessionError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SessionError, `expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected rejection with ${code}`);
}

describe('daemon with two static rooms', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ red: 'red-pw', blue: 'blue-pw' }, { limits: { historySize: 3 } });
  });
  after(() => d.stop());

  test('rooms are isolated from each other', async () => {
    const r1 = await joinAs(d, 'red', 'red-pw', 'ann');
    const r2 = await joinAs(d, 'red', 'red-pw', 'ben');
    const b1 = await joinAs(d, 'blue', 'blue-pw', 'cat');
    const r2log = new EventLog(r2);
    const b1log = new EventLog(b1);
    r1.send('for red only');
    b1.send('for blue only');
    await r2log.waitFor(isMessage('for red only'));
    await b1log.waitFor(isMessage('for blue only'));
    // Each room's member saw only its own room's traffic and presence.
    await r1.waitForEchoes();
    assert.deepEqual(r2log.bodies(), ['for red only']);
    assert.deepEqual(b1log.bodies(), ['for blue only']);
    assert.deepEqual(
      b1.memberList().map((m) => m.username),
      ['cat'],
    );
    assert.deepEqual(
      r2.memberList().map((m) => m.username),
      ['ann', 'ben'],
    );
    for (const s of [r1, r2, b1]) await s.close();
  });

  test('a wrong password and an unknown room fail the same way', async () => {
    const wrong = await rejectsWith(openSession(d, 'red', 'nope'), 'auth_failed');
    const unknown = await rejectsWith(openSession(d, 'green', 'red-pw'), 'auth_failed');
    assert.equal(wrong.message, unknown.message);
    assert.equal(wrong.daemonCode, unknown.daemonCode);
  });

  test('the sender gets its own message back as the delivery receipt', async () => {
    const s = await joinAs(d, 'blue', 'blue-pw', 'echo');
    const log = new EventLog(s);
    s.send('receipt please');
    const ev = await log.waitFor(isMessage('receipt please'));
    assert.ok(ev.type === 'message' && ev.mine && !ev.history && ev.username === 'echo');
    await s.waitForEchoes();
    assert.equal(s.unechoedCount, 0);
    await s.close();
  });

  test('history is replayed to a late joiner, bounded by --history', async () => {
    const w = await joinAs(d, 'red', 'red-pw', 'writer');
    for (const n of [1, 2, 3, 4, 5]) w.send(`h${n}`);
    await w.waitForEchoes();
    const late = await openSession(d, 'red', 'red-pw');
    const replayed = await late.join('late');
    assert.deepEqual(
      replayed.map((e) => [e.body, e.history, e.username]),
      [
        ['h3', true, 'writer'],
        ['h4', true, 'writer'],
        ['h5', true, 'writer'],
      ],
    );
    await w.close();
    await late.close();
  });

  test('/wipe clears the history for everyone and tells every member who did it', async () => {
    const a = await joinAs(d, 'blue', 'blue-pw', 'wiper');
    const b = await joinAs(d, 'blue', 'blue-pw', 'watcher');
    const blog = new EventLog(b);
    a.send('secret');
    await blog.waitFor(isMessage('secret'));
    a.wipeHistory();
    const cleared = await blog.waitFor((e) => e.type === 'cleared', 'cleared');
    assert.ok(cleared.type === 'cleared' && cleared.by === 'wiper');
    const late = await openSession(d, 'blue', 'blue-pw');
    assert.deepEqual(await late.join('late2'), []);
    for (const s of [a, b, late]) await s.close();
  });

  test('presence: members see joins, leaves and the member list', async () => {
    const a = await joinAs(d, 'red', 'red-pw', 'present');
    const alog = new EventLog(a);
    const b = await joinAs(d, 'red', 'red-pw', 'visitor');
    await alog.waitFor((e) => e.type === 'join' && e.username === 'visitor', 'join');
    assert.ok(a.memberList().some((m) => m.username === 'visitor'));
    await b.close();
    await alog.waitFor((e) => e.type === 'leave' && e.username === 'visitor', 'leave');
    assert.ok(!a.memberList().some((m) => m.username === 'visitor'));
    await a.close();
  });

  test('names: taken names are refused (case-insensitively) and the join can be retried without re-authenticating', async () => {
    const a = await joinAs(d, 'red', 'red-pw', 'Dora');
    const b = await openSession(d, 'red', 'red-pw');
    await rejectsWith(b.join('dora'), 'name_taken');
    await rejectsWith(b.join('bad\u202ename'), 'bad_name');
    await b.join('dora2');
    assert.equal(b.me.username, 'dora2');
    await a.close();
    await b.close();
  });

  test('/nick renames, everyone sees it, and taken names are refused', async () => {
    const a = await joinAs(d, 'blue', 'blue-pw', 'eve');
    const b = await joinAs(d, 'blue', 'blue-pw', 'fay');
    const blog = new EventLog(b);
    await a.nick('eva');
    assert.equal(a.me.username, 'eva');
    const ev = await blog.waitFor((e) => e.type === 'rename', 'rename');
    assert.ok(ev.type === 'rename' && ev.old === 'eve' && ev.new === 'eva');
    await rejectsWith(a.nick('FAY'), 'name_taken');
    // Messages after the rename carry the new name and are not flagged as forged.
    a.send('as eva');
    const msg = await blog.waitFor(isMessage('as eva'));
    assert.ok(msg.type === 'message' && msg.username === 'eva' && msg.forgedFrom === undefined);
    // The old name is free again: a newcomer takes it.
    const c = await joinAs(d, 'blue', 'blue-pw', 'eve');
    assert.equal(c.me.username, 'eve');
    await c.close();
    await a.close();
    await b.close();
  });

  test('ping measures a round trip through the channel', async () => {
    const a = await joinAs(d, 'blue', 'blue-pw', 'pinger');
    const rtt = await a.ping();
    assert.ok(rtt >= 0 && Number.isFinite(rtt));
    await a.close();
  });
});

describe('open rooms', () => {
  test('a client creates a room, others join it with the same password, and it vanishes after its last member', async () => {
    // A grace that outlasts the handshakes below on a loaded machine (one took over 4 s).
    const d = await startDaemon({}, { openRooms: true, limits: { openRoomGraceMs: 60_000 } });
    try {
      const creator = await joinAs(d, 'pop-up', 'pw1', 'maker', { create: true });
      assert.equal(d.registry.size, 1);
      const guest = await joinAs(d, 'pop-up', 'pw1', 'guest');
      await rejectsWith(openSession(d, 'pop-up', 'other'), 'auth_failed');
      // Creating over an existing room with another password is just a wrong password.
      await rejectsWith(openSession(d, 'pop-up', 'other', { create: true }), 'auth_failed');
      const glog = new EventLog(guest);
      creator.send('in the pop-up');
      await glog.waitFor(isMessage('in the pop-up'));
      await creator.close();
      await guest.close();
      // Emptied: for the grace period its name stays reserved (another password cannot claim
      // it) and its members can come back with theirs; the history is gone at once.
      await rejectsWith(openSession(d, 'pop-up', 'pw2', { create: true }), 'auth_failed');
      const back = await openSession(d, 'pop-up', 'pw1');
      assert.deepEqual(await back.join('maker'), []);
      await back.close();
      assert.equal(d.registry.size, 1, 'kept for the grace');
    } finally {
      await d.stop();
    }
    // After the grace (a short one here), it is gone.
    const short = await startDaemon({}, { openRooms: true, limits: { openRoomGraceMs: 300 } });
    try {
      const maker = await joinAs(short, 'pop-up', 'pw1', 'maker', { create: true });
      await maker.close();
      await waitUntil(() => short.registry.size === 0, 'the room to vanish', 10_000);
      // Gone: joining without --create fails, and the name can be created anew with another password.
      await rejectsWith(openSession(short, 'pop-up', 'pw1'), 'auth_failed');
      const again = await joinAs(short, 'pop-up', 'pw2', 'second', { create: true });
      await again.close();
    } finally {
      await short.stop();
    }
  });

  test('without --open-rooms a create request is an unknown room', async () => {
    const d = await startDaemon({ chat: 'pw' });
    try {
      await rejectsWith(openSession(d, 'mine', 'pw', { create: true }), 'auth_failed');
      assert.equal(d.registry.size, 1);
    } finally {
      await d.stop();
    }
  });
});

describe('shutdown', () => {
  test('every member is told, the sessions end with "shutdown", and the registry is wiped', async () => {
    const d = await startDaemon({ chat: 'pw' });
    const a = await joinAs(d, 'chat', 'pw', 'a');
    const b = await joinAs(d, 'chat', 'pw', 'b');
    const closed = [a, b].map(
      (s) => new Promise<SessionError | undefined>((resolve) => s.once('close', resolve)),
    );
    await d.stop();
    for (const reason of await Promise.all(closed)) {
      assert.ok(reason instanceof SessionError);
      assert.equal(reason.code, 'shutdown');
    }
    assert.equal(d.registry.size, 0);
    assert.equal(d.daemon.stats().connections, 0);
  });
});

describe('flood control by bytes', () => {
  test('a member sending large messages faster than --rate-bytes is slowed, and nothing is lost', async () => {
    const rate = 20_000;
    const d = await startDaemon(
      { chat: 'pw' },
      { limits: { rateBytesPerSecond: rate, rateBurstBytes: rate } },
    );
    try {
      const sender = await joinAs(d, 'chat', 'pw', 'big');
      const reader = await joinAs(d, 'chat', 'pw', 'reader');
      const log = new EventLog(reader);
      const bodies = Array.from({ length: 10 }, (_, i) => `${i} ${'y'.repeat(3000)}`);
      const started = Date.now();
      for (const body of bodies) sender.send(body);
      await log.waitFor(isMessage(bodies[9]!), 'the last message', 30_000);
      const elapsed = Date.now() - started;
      assert.deepEqual(log.bodies(), bodies);
      // Each record is over 5 kB: 10 of them exceed the 20 kB burst by 30 kB or more, which at
      // 20 kB/s takes at least 1.5 s. Half of that as a lower bound shows reads were paused.
      assert.ok(elapsed >= 750, `delivered in ${elapsed} ms: the byte rate did not apply`);
      await sender.close();
      await reader.close();
    } finally {
      await d.stop();
    }
  });
});

describe('history bounded in bytes', () => {
  test('the oldest messages go first once the ciphertext passes --history-bytes', async () => {
    const d = await startDaemon({ chat: 'pw' }, { limits: { historySize: 50, historyBytes: 2000 } });
    try {
      const a = await joinAs(d, 'chat', 'pw', 'a');
      const bodies = Array.from({ length: 20 }, (_, i) => `message ${i} ${'x'.repeat(40)}`);
      for (const body of bodies) a.send(body);
      await a.waitForEchoes();
      const late = await openSession(d, 'chat', 'pw');
      const history = await late.join('late');
      assert.ok(history.length > 0 && history.length < 20, `kept ${history.length}`);
      // The newest are kept, in order.
      assert.deepEqual(
        history.map((e) => e.body),
        bodies.slice(20 - history.length),
      );
      await a.close();
      await late.close();
    } finally {
      await d.stop();
    }
  });
});

describe('history 0', () => {
  test('keeps nothing for late joiners', async () => {
    const d = await startDaemon({ chat: 'pw' }, { limits: { historySize: 0 } });
    try {
      const a = await joinAs(d, 'chat', 'pw', 'a');
      a.send('gone');
      await a.waitForEchoes();
      const late = await openSession(d, 'chat', 'pw');
      assert.deepEqual(await late.join('late'), []);
      await a.close();
      await late.close();
    } finally {
      await d.stop();
    }
  });
});

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
