/**
 * The daemon's `init` as the client reads it: `head` (the log's last number when it was sent)
 * comes with `epoch` and `seq`, never before `seq`; older daemons leave it out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError } from '../../lib/protocol/errors.js';
import { readServerFrame } from '../../lib/protocol/frames.js';

const base = {
  type: 'init',
  you: { user_id: 'u1', username: 'alice' },
  room: 'chat',
  messages: [],
  users: [],
  epoch: 'e1',
  seq: 12,
};

test('init: head after seq is read; absent is fine; before seq or not a count is refused', () => {
  const withHead = readServerFrame({ ...base, head: 40 });
  assert.equal(withHead.type === 'init' && withHead.head, 40);
  const without = readServerFrame(base);
  assert.equal(without.type === 'init' && without.head, undefined);
  for (const head of [11, -1, 1.5, '40']) {
    assert.throws(() => readServerFrame({ ...base, head }), ProtocolError, String(head));
  }
});
