/**
 * Which payloads a daemon accepts from others (lib/cluster/peers.ts), without a server or a
 * clock: nothing from a sender before its introduction answers one of our own challenges;
 * after it, each number once and in increasing order; send times however far off change
 * nothing and are noted once per sender; every table is bounded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ANSWERED, OFFSET_NOTICE_MS, OPEN_CHALLENGES, PeerGuard } from '../../lib/cluster/peers.js';
import type { Envelope } from '../../lib/cluster/seal.js';

const id = (): string => randomBytes(16).toString('hex');
const me = id();

function envelope(from: string, seq: number, at = Date.now()): Envelope {
  return { from, seq, at, event: {} };
}

test('a sender is accepted only after an introduction answering our own open challenge', () => {
  const guard = new PeerGuard(me);
  const peer = id();
  assert.equal(guard.accept(envelope(peer, 3)), 'unknown', 'a stranger (a replay to a new daemon?)');
  const c = guard.challenge();
  assert.ok(!guard.introduce(envelope(peer, 5), id(), c), 'an introduction to another daemon');
  assert.ok(!guard.introduce(envelope(peer, 5), me, id()), 'a challenge we never issued');
  assert.equal(guard.accept(envelope(peer, 6)), 'unknown');
  assert.ok(guard.introduce(envelope(peer, 7), me, c));
  assert.equal(guard.accept(envelope(peer, 6)), 'replay', 'sent before the introduction');
  assert.equal(guard.accept(envelope(peer, 7)), 'replay', 'the introduction itself again');
  assert.equal(guard.accept(envelope(peer, 8)), 'accept');
  assert.equal(guard.accept(envelope(peer, 8)), 'replay');
  assert.equal(guard.accept(envelope(peer, 12)), 'accept', 'gaps are fine (a lost payload)');
  assert.equal(guard.accept(envelope(peer, 11)), 'replay', 'older than the last');
  // A replayed old introduction never lowers the floor.
  assert.ok(guard.introduce(envelope(peer, 7), me, c));
  assert.equal(guard.accept(envelope(peer, 9)), 'replay');
});

test('send times far off change nothing; an offset is noted once per sender', () => {
  const guard = new PeerGuard(me);
  const now = Date.now();
  const ahead = id();
  const behind = id();
  const near = id();
  const c = guard.challenge();
  for (const [peer, at] of [
    [ahead, now + 150_000],
    [behind, now - 30 * 24 * 3600_000],
  ] as const) {
    assert.ok(guard.introduce(envelope(peer, 1, at), me, c));
    assert.equal(guard.accept(envelope(peer, 2, at)), 'accept');
  }
  assert.equal(guard.offsetToNote(envelope(ahead, 2, now + 150_000), now), 150_000);
  assert.equal(guard.offsetToNote(envelope(ahead, 3, now + 150_000), now), undefined, 'once');
  assert.equal(guard.offsetToNote(envelope(behind, 2, now - 30 * 24 * 3600_000), now), -30 * 24 * 3600_000);
  assert.equal(guard.offsetToNote(envelope(near, 1, now + OFFSET_NOTICE_MS), now), undefined, 'close enough');
  assert.equal(guard.offsetToNote(envelope(near, 1, now - OFFSET_NOTICE_MS - 1), now), -OFFSET_NOTICE_MS - 1);
});

test('challenges: only the last few stay open; each of theirs is answered once, a bounded memory', () => {
  const guard = new PeerGuard(me);
  const first = guard.challenge();
  for (let i = 0; i < OPEN_CHALLENGES; i++) guard.challenge();
  assert.ok(!guard.introduce(envelope(id(), 1), me, first), 'an old challenge is closed');
  const theirs = id();
  assert.ok(guard.answer(theirs));
  assert.ok(!guard.answer(theirs), 'a replayed hello is not answered again');
  for (let i = 0; i < ANSWERED; i++) guard.answer(id());
  assert.ok(guard.answer(theirs), 'forgotten beyond the bound');
});

test('bounded senders: the least recently heard is forgotten and must introduce itself again', () => {
  const guard = new PeerGuard(me, 3);
  const senders = Array.from({ length: 4 }, id);
  const c = guard.challenge();
  for (const s of senders.slice(0, 3)) assert.ok(guard.introduce(envelope(s, 1), me, c));
  assert.equal(guard.accept(envelope(senders[0]!, 2)), 'accept'); // senders[0] heard again
  assert.ok(guard.introduce(envelope(senders[3]!, 1), me, c)); // senders[1] forgotten
  assert.equal(guard.senders, 3);
  assert.ok(!guard.knows(senders[1]!));
  assert.equal(guard.accept(envelope(senders[1]!, 2)), 'unknown');
  assert.equal(guard.accept(envelope(senders[0]!, 2)), 'replay', 'still remembered');
});
