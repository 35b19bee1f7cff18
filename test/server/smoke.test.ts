import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { joinAs, startDaemon } from '../helpers/daemon.js';

test('two members exchange a message', async () => {
  const d = await startDaemon({ chat: 'pw' });
  const alice = await joinAs(d, 'chat', 'pw', 'alice');
  const bob = await joinAs(d, 'chat', 'pw', 'bob');
  const got = new Promise<ChatEvent>((resolve) => bob.on('event', (e) => e.type === 'message' && resolve(e)));
  alice.send('hello bob');
  const ev = await got;
  assert.equal(ev.type, 'message');
  if (ev.type === 'message') {
    assert.equal(ev.body, 'hello bob');
    assert.equal(ev.username, 'alice');
  }
  await alice.waitForEchoes();
  await alice.close();
  await bob.close();
  await d.stop();
});
