/**
 * Verification follows the key, not the connection: after a cut link (the fault proxy) and
 * the reconnect that follows, the member who reconnected is still verified for the one who
 * verified it, and still sees as verified the member it had verified.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tcpClient } from '../../lib/transport/tcp.js';
import { joinAs, startDaemon } from '../helpers/daemon.js';
import { EventLog, isMessage } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

const FAST = { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: 0 };

test('verification survives a reconnect with the same key, on both sides', async () => {
  const d = await startDaemon({ chat: 'pw' });
  const proxy = await FaultProxy.start(d.port);
  const alice = await joinAs(d, 'chat', 'pw', 'alice', {
    transport: tcpClient({ host: '127.0.0.1', port: proxy.port }),
    reconnect: FAST,
  });
  const bob = await joinAs(d, 'chat', 'pw', 'bob');
  const [aliceLog, bobLog] = [new EventLog(alice), new EventLog(bob)];
  try {
    // bob's init listed alice; alice learns of bob from its join.
    assert.equal(bob.verifyMember('alice', alice.keyring!.fingerprint), 'verified');
    await aliceLog.waitFor((e) => e.type === 'join' && e.username === 'bob', 'alice sees bob');
    assert.equal(alice.verifyMember('bob', bob.keyring!.fingerprint), 'verified');
    const oldId = alice.me.user_id;

    proxy.cut();
    await aliceLog.waitFor((e) => e.type === 'reconnected', 'reconnected', 15_000);
    assert.notEqual(alice.me.user_id, oldId, 'a new connection, a new user_id');

    alice.send('back again');
    const seenByBob = await bobLog.waitFor(isMessage('back again'), 'bob sees it');
    assert.ok(seenByBob.type === 'message');
    assert.equal(seenByBob.trust, 'verified', "the other's reconnect");
    assert.equal(seenByBob.verified, true);
    assert.equal(bob.whois('alice')?.trust, 'verified');

    bob.send('welcome back');
    const seenByAlice = await aliceLog.waitFor(isMessage('welcome back'), 'alice sees it');
    assert.ok(seenByAlice.type === 'message');
    assert.equal(seenByAlice.trust, 'verified', 'its own reconnect');
  } finally {
    await alice.close();
    await bob.close();
    await proxy.stop();
    await d.stop();
  }
});
