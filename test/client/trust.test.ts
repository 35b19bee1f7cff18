/**
 * The trust state of members, without a network: /verify follows the key (any name, a new
 * user_id), a pinned or verified name taken by another key is `changed` on every name key
 * (case, confusables), pins parse strictly, the marks render as plain glyphs (pipe format:
 * only the alarm) and `trust` reaches --json.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { MessageEvent } from '../../lib/client/events.js';
import { eventToJson } from '../../lib/client/json-events.js';
import { renderEvent, renderPlain } from '../../lib/client/render.js';
import { MemberKeyring } from '../../lib/client/session/member-keys.js';
import { canonicalFingerprint, TrustPins } from '../../lib/client/session/trust-pins.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import { createMemberKeys, memberFingerprint, sealCard } from '../../lib/crypto/identity.js';

const room = new Fernet(randomBytes(32));

/** A card for `userId`, from `keys` (fresh unless given), and its fingerprint. */
function card(userId: string, keys = createMemberKeys()): { token: string; fingerprint: string } {
  return { token: sealCard(room, keys, userId), fingerprint: memberFingerprint(keys.signPublic) };
}

describe('trust states', () => {
  test('/verify follows the key: under another user_id and another name it stays verified', () => {
    const ring = new MemberKeyring(room, 'me');
    const bobKeys = createMemberKeys();
    const bob = card('u-bob', bobKeys);
    assert.ok(ring.addCard('u-bob', bob.token));
    assert.equal(ring.trustOf('u-bob', 'bob'), 'unverified');
    assert.equal(ring.verify('u-bob', 'bob', 'AAAA-AAAA-AAAA-AAAA-AAAA'), false);
    assert.equal(ring.verify('u-bob', 'bob', bob.fingerprint.toLowerCase()), true);
    ring.forget('u-bob');
    // bob reconnects: a new user_id, the same key; then renames.
    assert.ok(ring.addCard('u-bob-2', card('u-bob-2', bobKeys).token));
    assert.equal(ring.trustOf('u-bob-2', 'bob'), 'verified');
    assert.equal(ring.trustOf('u-bob-2', 'robert'), 'verified');
  });

  test('a verified or pinned name with another key is changed, on every name key', () => {
    const pinned = card('u-p', createMemberKeys());
    const ring = new MemberKeyring(room, 'me', { pins: new TrustPins([`carol=${pinned.fingerprint}`]) });
    const bob = card('u-bob');
    ring.addCard('u-bob', bob.token);
    ring.verify('u-bob', 'bob', bob.fingerprint);
    for (const [id, name] of [
      ['u-x1', 'bob'],
      ['u-x2', 'BOB'],
      ['u-x3', 'bоb'], // Cyrillic о
      ['u-x4', 'caroI'], // capital I: the second name key
      ['u-x5', 'CAROL'],
    ] as const) {
      ring.addCard(id, card(id).token);
      assert.equal(ring.trustOf(id, name), 'changed', name);
      assert.ok(ring.keyChangedFor(id, name), name);
    }
    // No card at all under a pinned name: changed too.
    assert.equal(ring.trustOf('u-nocard', 'carol'), 'changed');
    // The pinned key under the pinned name: verified from the start.
    ring.addCard('u-p', pinned.token);
    assert.equal(ring.trustOf('u-p', 'carol'), 'verified');
    assert.equal(ring.trustOf('u-x6', 'dave'), 'unverified');
  });

  test('the /msg warning is once per key', () => {
    const ring = new MemberKeyring(room, 'me');
    ring.addCard('u1', card('u1').token);
    assert.equal(ring.firstPrivateTo('u1'), true);
    assert.equal(ring.firstPrivateTo('u1'), false);
  });
});

describe('trust pins', () => {
  test('NAME=FINGERPRINT, canonical form, look-alike conflicts, clear errors', () => {
    assert.equal(canonicalFingerprint('abcd efgh-ijkl mnop qrst'), 'ABCD-EFGH-IJKL-MNOP-QRST');
    assert.equal(canonicalFingerprint('ABCD-EFGH-IJKL-MNOP-QRS1'), undefined);
    const pins = new TrustPins(['alice=abcdefghijklmnopqrst']);
    assert.equal(pins.expected('ALICE'), 'ABCD-EFGH-IJKL-MNOP-QRST');
    assert.equal(pins.expected('bob'), undefined);
    assert.throws(() => new TrustPins(['alice']), /trust pin 1 is not NAME=FINGERPRINT/);
    assert.throws(() => new TrustPins(['alice=short']), /trust pin 1 \(alice\): the fingerprint/);
    assert.throws(() => new TrustPins(['=ABCD-EFGH-IJKL-MNOP-QRST']), /not NAME=FINGERPRINT/);
    assert.throws(
      () => new TrustPins(['alice=ABCD-EFGH-IJKL-MNOP-QRST', 'ALICE=ABCD-EFGH-IJKL-MNOP-QRSA']),
      /look alike but are pinned to different fingerprints/,
    );
    assert.deepEqual(TrustPins.entriesOf(' a=x,b=y\nc=z '), ['a=x', 'b=y', 'c=z']);
  });
});

describe('trust marks', () => {
  const msg = (trust: MessageEvent['trust']): MessageEvent => ({
    type: 'message',
    id: 'm1',
    at: Date.now(),
    userId: 'u1',
    username: 'bob',
    kind: 'text',
    body: 'hi',
    mine: false,
    history: false,
    undecryptable: false,
    signature: 'valid',
    ...(trust ? { trust } : {}),
  });

  test('plain glyphs in the REPL with and without colour; the pipe format shows only the alarm', () => {
    for (const color of [false, true]) {
      const plain = (t: MessageEvent['trust']): string =>
        renderEvent(msg(t), { color, me: 'alice' }).replace(/\x1b\[[0-9;]*m/g, '');
      assert.match(plain('verified'), /bob ✓: hi$/);
      assert.match(plain('unverified'), /bob \?: hi$/);
      assert.match(plain('changed'), /bob ✗ KEY CHANGED: hi$/);
    }
    assert.match(renderPlain(msg('verified')), /^\d\d:\d\d bob: hi$/);
    assert.match(renderPlain(msg('unverified')), /^\d\d:\d\d bob: hi$/);
    assert.match(renderPlain(msg('changed')), /^\d\d:\d\d bob \(key changed\): hi$/);
  });

  test('--json carries trust for messages and private messages, and the safety phrase', () => {
    assert.equal(JSON.parse(eventToJson(msg('changed'))).trust, 'changed');
    assert.equal(JSON.parse(eventToJson(msg(undefined))).trust, undefined);
    const pm = JSON.parse(
      eventToJson({
        type: 'private',
        at: 0,
        fromUserId: 'u1',
        from: 'bob',
        toUserId: 'u2',
        to: 'alice',
        body: 'x',
        mine: false,
        undecryptable: false,
        trust: 'unverified',
      }),
    );
    assert.equal(pm.trust, 'unverified');
    assert.deepEqual(JSON.parse(eventToJson({ type: 'safety_phrase', at: 0, phrase: 'a b', members: 2 })), {
      v: 1,
      type: 'safety_phrase',
      time: '1970-01-01T00:00:00.000Z',
      phrase: 'a b',
      members: 2,
    });
  });
});
