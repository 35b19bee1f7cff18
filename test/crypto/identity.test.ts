/**
 * Member identity: cards sealed under the room key and bound to user_id, message signatures,
 * pairwise private-message keys and member fingerprints — including every way to cheat.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { newMessageId, openEnvelope, sealEnvelope } from '../../lib/crypto/envelope.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import {
  createMemberKeys,
  IdentityError,
  MAX_CARD_TOKEN,
  memberFingerprint,
  openCard,
  openPrivate,
  pairwiseKey,
  sealCard,
  sealPrivate,
  signMessage,
  verifyMessage,
} from '../../lib/crypto/identity.js';

const room = new Fernet(randomBytes(32));
const alice = createMemberKeys();
const bob = createMemberKeys();
const mallory = createMemberKeys();
const refused = (fn: () => unknown, label: string): void => {
  assert.throws(fn, (e: unknown) => e instanceof IdentityError, label);
};

describe('member cards', () => {
  it('open to the keys and fingerprint of the member whose slot they are in', () => {
    const card = openCard(room, sealCard(room, alice, 'r-1'), 'r-1');
    assert.equal(card.userId, 'r-1');
    assert.deepEqual(card.signPublic, alice.signPublic);
    assert.deepEqual(card.dhPublic, alice.dhPublic);
    assert.match(card.fingerprint, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){4}$/);
    assert.equal(card.fingerprint, memberFingerprint(alice.signPublic, alice.dhPublic));
    assert.notEqual(card.fingerprint, memberFingerprint(bob.signPublic, bob.dhPublic));
  });

  it('a card swapped into another member slot is refused', () => {
    const aliceCard = sealCard(room, alice, 'r-1');
    refused(() => openCard(room, aliceCard, 'r-2'), 'alice card in bob slot');
  });

  it('a card sealed under another room key, or tampered with, is refused', () => {
    const other = new Fernet(randomBytes(32));
    refused(() => openCard(room, sealCard(other, alice, 'r-1'), 'r-1'), 'other room');
    const token = sealCard(room, alice, 'r-1');
    const flipped = token.slice(0, 40) + (token[40] === 'A' ? 'B' : 'A') + token.slice(41);
    refused(() => openCard(room, flipped, 'r-1'), 'flipped byte');
    refused(() => openCard(room, 42, 'r-1'), 'not a string');
    refused(() => openCard(room, 'x'.repeat(MAX_CARD_TOKEN + 1), 'r-1'), 'oversized');
  });

  it('a room member cannot publish a card claiming another member keys', () => {
    // Mallory holds the room key and seals a card with alice's public keys under her own
    // user_id: without alice's private key the self-signature cannot be made.
    const forged = {
      ...mallory,
      signPublic: alice.signPublic,
      dhPublic: alice.dhPublic,
    };
    refused(() => openCard(room, sealCard(room, forged, 'r-3'), 'r-3'), 'keys without the private key');
  });
});

describe('message signatures', () => {
  const aliceCard = openCard(room, sealCard(room, alice, 'r-1'), 'r-1');
  const malloryCard = openCard(room, sealCard(room, mallory, 'r-3'), 'r-3');
  const msg = { userId: 'r-1', id: 'AAAAAAAAAAAAAAAAAAAAAA', kind: 'text', body: 'hello' };
  const sig = signMessage(alice, msg);

  it('verify against the card of the member who signed', () => {
    assert.ok(verifyMessage(aliceCard, msg, sig));
  });

  it('tampering with body, kind or id breaks the signature', () => {
    assert.ok(!verifyMessage(aliceCard, { ...msg, body: 'hellO' }, sig));
    assert.ok(!verifyMessage(aliceCard, { ...msg, kind: 'me' }, sig));
    assert.ok(!verifyMessage(aliceCard, { ...msg, id: 'AAAAAAAAAAAAAAAAAAAAAQ' }, sig));
    const bad = Buffer.from(sig, 'base64url');
    bad[0] ^= 1;
    assert.ok(!verifyMessage(aliceCard, msg, bad.toString('base64url')));
    assert.ok(!verifyMessage(aliceCard, msg, undefined));
    assert.ok(!verifyMessage(aliceCard, msg, 'short'));
  });

  it('a message replayed by another member, or re-attributed by the daemon, fails', () => {
    // Replayed by mallory: the daemon attributes it to mallory, checked against her card.
    assert.ok(!verifyMessage(malloryCard, { ...msg, userId: 'r-3' }, sig));
    // Re-attributed to mallory's slot but checked against alice's card: user_id mismatch.
    assert.ok(!verifyMessage(aliceCard, { ...msg, userId: 'r-3' }, sig));
    // Mallory signing with her key a message attributed to alice.
    assert.ok(!verifyMessage(aliceCard, msg, signMessage(mallory, msg)));
  });
});

describe('private messages', () => {
  const aliceCard = openCard(room, sealCard(room, alice, 'r-1'), 'r-1');
  const bobCard = openCard(room, sealCard(room, bob, 'r-2'), 'r-2');
  const malloryCard = openCard(room, sealCard(room, mallory, 'r-3'), 'r-3');

  it('both members derive the same key; a third member derives another', () => {
    const ab = pairwiseKey(alice, 'r-1', bobCard);
    const ba = pairwiseKey(bob, 'r-2', aliceCard);
    assert.deepEqual(ab, ba);
    assert.notDeepEqual(pairwiseKey(mallory, 'r-3', bobCard), ab);
    assert.notDeepEqual(pairwiseKey(alice, 'r-1', malloryCard), ab);
  });

  it('only the recipient opens it, and only in its direction', () => {
    const key = pairwiseKey(alice, 'r-1', bobCard);
    const sealed = sealPrivate(key, 'r-1', 'r-2', Buffer.from('psst'));
    assert.equal(openPrivate(pairwiseKey(bob, 'r-2', aliceCard), 'r-1', 'r-2', sealed).toString(), 'psst');
    assert.ok(!sealed.includes('psst'));
    refused(() => openPrivate(pairwiseKey(mallory, 'r-3', aliceCard), 'r-1', 'r-2', sealed), 'third member');
    refused(() => openPrivate(key, 'r-2', 'r-1', sealed), 'reflected');
    refused(() => openPrivate(key, 'r-1', 'r-3', sealed), 're-addressed');
    refused(() => openPrivate(key, 'r-1', 'r-2', `${sealed.slice(0, -2)}AA`), 'tampered');
    refused(() => openPrivate(key, 'r-1', 'r-2', 'AAAA'), 'too short');
  });
});

describe('signed envelopes', () => {
  it('carry the signature inside the room-key token, and it verifies after opening', () => {
    const aliceCard = openCard(room, sealCard(room, alice, 'r-1'), 'r-1');
    const id = newMessageId();
    const sig = signMessage(alice, { userId: 'r-1', id, kind: 'text', body: 'hi' });
    const env = openEnvelope(room, sealEnvelope(room, { from: 'alice', id, kind: 'text', body: 'hi', sig }));
    assert.equal(env.sig, sig);
    assert.ok(
      verifyMessage(aliceCard, { userId: 'r-1', id: env.id, kind: env.kind, body: env.body }, env.sig),
    );
    const unsigned = openEnvelope(room, sealEnvelope(room, { from: 'alice', kind: 'text', body: 'hi' }));
    assert.equal(unsigned.sig, undefined);
    assert.ok(
      !verifyMessage(aliceCard, { userId: 'r-1', id: unsigned.id, kind: 'text', body: 'hi' }, unsigned.sig),
    );
  });
});
