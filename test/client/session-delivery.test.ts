/**
 * The session delivers every event to the UI even when `init` and the records after it
 * arrive in one read: a proxy batches the daemon's bytes so the join's `init` and the first
 * message sent right after it reach the client in a single chunk, before the caller of
 * `join()` has resumed and attached its listener.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChatSession } from '../../lib/client/session/session.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { joinAs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { EventLog, isMessage } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

let d: TestDaemon;
let proxy: FaultProxy;
before(async () => {
  d = await startDaemon({ lobby: 'pw' });
  proxy = await FaultProxy.start(d.port);
});
after(async () => {
  await proxy.stop();
  await d.stop();
});

test('messages that arrive with init in one chunk reach the listener attached after join()', async () => {
  const bob = await joinAs(d, 'lobby', 'pw', 'bob');
  const bobLog = new EventLog(bob);
  // Bob answers the moment he sees amy join: the daemon sends his message right after amy's init.
  bob.on('event', (e) => {
    if (e.type === 'join' && e.username === 'amy') {
      bob.send('first');
      bob.send('second');
    }
  });
  const amy = await ChatSession.open({
    reconnect: false,
    transport: tcpClient({ host: '127.0.0.1', port: proxy.port }),
    room: 'lobby',
    password: 'pw',
  });
  proxy.batch('down', 400);
  const history = await amy.join('amy');
  assert.deepEqual(history, []);
  // Like the REPL and pipe mode: the listener comes after join() resolved.
  const amyLog = new EventLog(amy);
  await amyLog.waitFor(isMessage('second'), 'the second message');
  assert.deepEqual(amyLog.bodies(), ['first', 'second']);
  await bobLog.waitFor(isMessage('second'), "bob's echo");
  await amy.close();
  await bob.close();
});

test('an end that comes while events are held is reported after them', async () => {
  const bob = await joinAs(d, 'lobby', 'pw', 'bob2');
  const amy = await joinAs(d, 'lobby', 'pw', 'amy2');
  const amyLog = new EventLog(amy);
  bob.send('before the end');
  await amyLog.waitFor(isMessage('before the end'), 'the message');
  // Nobody listens to carl yet: bob's message and the end of the session are held for him.
  const carl = await joinAs(d, 'lobby', 'pw', 'carl');
  bob.send('held for carl');
  await amyLog.waitFor(isMessage('held for carl'), 'the second message');
  await new Promise((resolve) => setTimeout(resolve, 100));
  await carl.close();
  const order: string[] = [];
  carl.on('close', () => order.push('close'));
  carl.on('event', (e) => order.push(e.type === 'message' ? e.body : e.type));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(order, ['held for carl', 'close']);
  await amy.close();
  await bob.close();
});
