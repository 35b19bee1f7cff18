/**
 * A held name on one daemon, over raw connections: a join with the right secret that the
 * room refuses (it is full) takes nothing back, so the name stays held for a later try.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDaemon } from '../helpers/daemon.js';
import { type RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const PW = 'held-names-password';

test('a resume join refused as busy keeps the name held; a later one takes it back', async () => {
  const d = await startDaemon({ chat: PW }, { limits: { resumeGraceMs: 10_000, maxMembersPerRoom: 1 } });
  const clients: RawClient[] = [];
  try {
    const first = await rawAuthenticated(d.port, 'chat', PW);
    clients.push(first);
    const init = await first.join('alice');
    assert.equal(init.type, 'init');
    first.destroy(); // lost: the name is held
    await waitFor(() => d.daemon.stats().members === 0, 'alice gone');
    const bob = await rawAuthenticated(d.port, 'chat', PW);
    clients.push(bob);
    assert.equal((await bob.join('bob')).type, 'init'); // the room is full now
    const back = await rawAuthenticated(d.port, 'chat', PW);
    clients.push(back);
    back.sendFrame({ type: 'join', username: 'alice', resume: init.resume });
    const refused = await back.nextFrameWhere((f) => f.type === 'error' || f.type === 'init');
    assert.equal(refused.code, 'busy');
    bob.sendFrame({ type: 'leave' }); // a goodbye: bob's name is not held
    bob.destroy();
    await waitFor(() => d.daemon.stats().members === 0, 'bob gone');
    const stranger = await rawAuthenticated(d.port, 'chat', PW);
    clients.push(stranger);
    assert.equal((await stranger.join('alice')).code, 'name_taken', 'still held after the refused resume');
    back.sendFrame({ type: 'join', username: 'alice', resume: init.resume });
    const taken = await back.nextFrameWhere((f) => f.type === 'error' || f.type === 'init');
    assert.equal(taken.type, 'init', JSON.stringify(taken));
  } finally {
    for (const c of clients) c.destroy();
    await d.stop();
  }
});
