/**
 * The outbox on its own, and the session's resend on a live connection: a message whose
 * echo does not come is written again with the same id, without a reconnect, until the
 * daemon confirms it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Outbox, type Outgoing } from '../../lib/client/session/outbox.js';
import { ChatSession } from '../../lib/client/session/session.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { initFor, startScriptedDaemon } from '../helpers/scripted-daemon.js';

const msg = (id: string): Outgoing => ({ id, kind: 'text', body: id, token: `t-${id}`, sealedFor: 'u' });

test('outbox: queued, in flight, confirmed; requeued in order after a reconnect; overdue ones once per interval', () => {
  let now = 0;
  const box = new Outbox(() => now);
  for (const id of ['a', 'b', 'c']) box.push(msg(id));
  assert.equal(box.take()?.id, 'a');
  assert.equal(box.take()?.id, 'b');
  assert.deepEqual([box.queuedCount, box.inFlightCount, box.size], [1, 2, 3]);
  assert.equal(box.confirm('a')?.id, 'a');
  assert.equal(box.confirm('a'), undefined);
  now = 100;
  assert.deepEqual(
    box.overdue(50).map((m) => m.id),
    ['b'],
  );
  assert.deepEqual(box.overdue(50), [], 'written again just now');
  box.requeue();
  assert.deepEqual([box.take()?.id, box.take()?.id], ['b', 'c']);
});

test('a message whose echo does not come is written again with the same mid on the same connection', async () => {
  const frames: Array<{ mid: unknown; text: unknown; at: number }> = [];
  let connections = 0;
  const daemon = await startScriptedDaemon('pw', (frame, peer) => {
    if (frame.type === 'join') {
      connections++;
      peer.send(initFor(String(frame.username)));
    }
    if (frame.type !== 'message') return;
    frames.push({ mid: frame.mid, text: frame.text, at: performance.now() });
    // The first write is lost on the daemon's side; the second is answered.
    if (frames.length === 2) peer.send({ type: 'received', mid: frame.mid });
  });
  const session = await ChatSession.open({
    transport: tcpClient({ host: '127.0.0.1', port: daemon.port }),
    room: 'chat',
    password: 'pw',
    resendAfterMs: 400,
  });
  try {
    await session.join('alice');
    session.send('hello');
    await session.waitForEchoes();
    assert.equal(frames.length, 2);
    assert.equal(frames[1]?.mid, frames[0]?.mid);
    assert.equal(frames[1]?.text, frames[0]?.text);
    assert.ok((frames[1]?.at ?? 0) - (frames[0]?.at ?? 0) >= 390, 'not before the timeout');
    assert.equal(connections, 1, 'no reconnect');
    assert.equal(session.unechoedCount, 0);
  } finally {
    await session.close();
    await daemon.stop();
  }
});
