/**
 * Member identity: cards sealed under the room key and bound to user_id (the primitives of
 * crypto/identity.ts), then message signatures, pairwise private messages and fingerprints as
 * a session's MemberKeyring keeps and checks them — including every way to cheat.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemberKeyring } from '../../lib/client/session/member-keys.js';
import { newMessageId, openEnvelope, sealEnvelope } from '../../lib/crypto/envelope.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import {
  createMemberKeys,
  IdentityError,
  MAX_CARD_TOKEN,
  memberFingerprint,
  openCard,
  sealCard,
} from '../../lib/crypto/identity.js';

const room = new Fernet(randomBytes(32));
const aliceKeys = createMemberKeys();
const bobKeys = createMemberKeys();
const malloryKeys = createMemberKeys();
const refused = (fn: () => unknown, label: string): void => {
  assert.throws(fn, (e: unknown) => e instanceof IdentityError, label);
};

describe('member cards', () => {
  it('open to the keys and fingerprint of the member whose slot they are in', () => {
    const card = openCard(room, sealCard(room, aliceKeys, 'r-1'), 'r-1');
    assert.equal(card.userId, 'r-1');
    assert.deepEqual(card.signPublic, aliceKeys.signPublic);
    assert.deepEqual(card.dhPublic, aliceKeys.dhPublic);
    assert.match(card.fingerprint, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){4}$/);
    assert.equal(card.fingerprint, memberFingerprint(aliceKeys.signPublic));
    assert.notEqual(card.fingerprint, memberFingerprint(bobKeys.signPublic));
  });

  it('a card swapped into another member slot is refused', () => {
    const aliceCard = sealCard(room, aliceKeys, 'r-1');
    refused(() => openCard(room, aliceCard, 'r-2'), 'alice card in bob slot');
  });

  it('a card sealed under another room key, or tampered with, is refused', () => {
    const other = new Fernet(randomBytes(32));
    refused(() => openCard(room, sealCard(other, aliceKeys, 'r-1'), 'r-1'), 'other room');
    const token = sealCard(room, aliceKeys, 'r-1');
    const flipped = token.slice(0, 40) + (token[40] === 'A' ? 'B' : 'A') + token.slice(41);
    refused(() => openCard(room, flipped, 'r-1'), 'flipped byte');
    refused(() => openCard(room, 42, 'r-1'), 'not a string');
    refused(() => openCard(room, 'x'.repeat(MAX_CARD_TOKEN + 1), 'r-1'), 'oversized');
  });

  it('a room member cannot publish a card claiming another member keys', () => {
    // Mallory holds the room key and seals a card with alice's public keys under her own
    // user_id: without alice's private key the self-signature cannot be made.
    const forged = {
      ...malloryKeys,
      signPublic: aliceKeys.signPublic,
      dhPublic: aliceKeys.dhPublic,
    };
    refused(() => openCard(room, sealCard(room, forged, 'r-3'), 'r-3'), 'keys without the private key');
  });
});

/**
 * Three sessions' keyrings in one room, each holding the others' cards as they would after
 * the daemon relayed them: alice (r-1), bob (r-2) and mallory (r-3).
 */
function roomOfThree(): { alice: MemberKeyring; bob: MemberKeyring; mallory: MemberKeyring } {
  const alice = new MemberKeyring(room, 'r-1');
  const bob = new MemberKeyring(room, 'r-2');
  const mallory = new MemberKeyring(room, 'r-3');
  const all = [
    ['r-1', alice],
    ['r-2', bob],
    ['r-3', mallory],
  ] as const;
  for (const [, holder] of all) {
    for (const [userId, owner] of all)
      if (owner !== holder) assert.ok(holder.addCard(userId, owner.ownCard()));
  }
  return { alice, bob, mallory };
}

describe('a keyring holding the cards of the room', () => {
  it("knows each member's fingerprint from the card in its slot; a refused card drops the slot's card", () => {
    const { alice, bob, mallory } = roomOfThree();
    assert.equal(bob.fingerprintOf('r-1'), alice.fingerprint);
    assert.equal(bob.fingerprintOf('r-3'), mallory.fingerprint);
    assert.notEqual(alice.fingerprint, mallory.fingerprint);
    // alice's card replayed into mallory's slot: refused, and mallory's earlier card is gone.
    assert.equal(bob.addCard('r-3', alice.ownCard()), false);
    assert.equal(bob.hasCard('r-3'), false);
    assert.equal(bob.fingerprintOf('r-3'), undefined);
  });
});

describe('message signatures', () => {
  const { alice, bob, mallory } = roomOfThree();
  const id = newMessageId();
  // What bob's session opens: alice's signed envelope, sealed under the room key and opened again.
  const env = openEnvelope(
    room,
    sealEnvelope(room, {
      from: 'alice',
      id,
      kind: 'text',
      body: 'hello',
      sig: alice.sign(id, 'text', 'hello'),
    }),
  );

  it('verify against the card of the member who signed, after the envelope is opened', () => {
    assert.ok(env.sig !== undefined);
    assert.equal(bob.check('r-1', env), 'valid');
    assert.equal(alice.check('r-1', env), 'valid', 'our own, recomputed');
    const unsigned = openEnvelope(
      room,
      sealEnvelope(room, { from: 'alice', id, kind: 'text', body: 'hello' }),
    );
    assert.equal(unsigned.sig, undefined);
    assert.equal(bob.check('r-1', unsigned), 'unsigned');
  });

  it('tampering with body, kind or id breaks the signature', () => {
    assert.equal(bob.check('r-1', { ...env, body: 'hellO' }), 'invalid');
    assert.equal(bob.check('r-1', { ...env, kind: 'me' }), 'invalid');
    const otherId = newMessageId();
    assert.equal(bob.check('r-1', { ...env, id: otherId }), 'invalid');
    const bad = Buffer.from(env.sig!, 'base64url');
    bad[0] ^= 1;
    assert.equal(bob.check('r-1', { ...env, sig: bad.toString('base64url') }), 'invalid');
    assert.equal(bob.check('r-1', { ...env, sig: 'short' }), 'invalid');
  });

  it('a message replayed by another member, or re-attributed by the daemon, fails', () => {
    // Replayed by mallory, or re-attributed to her slot: checked against her card.
    assert.equal(bob.check('r-3', env), 'invalid');
    // Attributed to a slot without a card.
    assert.equal(bob.check('r-9', env), 'no_card');
    // Mallory signing with her own key a message attributed to alice's user_id.
    const impostor = new MemberKeyring(room, 'r-1');
    assert.equal(bob.check('r-1', { ...env, sig: impostor.sign(id, 'text', 'hello') }), 'invalid');
    assert.equal(mallory.check('r-1', env), 'valid', 'the genuine one still checks out for everyone');
  });
});

describe('private messages', () => {
  const { alice, bob, mallory } = roomOfThree();
  const sealed = alice.sealPrivateFor('r-2', Buffer.from('psst'))!;

  it('the recipient opens it and the sender its receipt: both derive the same key', () => {
    assert.equal(bob.openPrivateBetween('r-1', 'r-2', sealed)?.toString(), 'psst');
    assert.equal(alice.openPrivateBetween('r-1', 'r-2', sealed)?.toString(), 'psst');
    assert.ok(!sealed.includes('psst'));
  });

  it('a third member, even in the recipient slot, derives another key and cannot open it', () => {
    assert.equal(mallory.openPrivateBetween('r-1', 'r-3', sealed), undefined, 're-addressed to mallory');
    // Other keys under bob's user_id, with alice's genuine card.
    const intruder = new MemberKeyring(room, 'r-2');
    assert.ok(intruder.addCard('r-1', alice.ownCard()));
    assert.equal(intruder.openPrivateBetween('r-1', 'r-2', sealed), undefined);
  });

  it('only in its direction, and not tampered with', () => {
    assert.equal(bob.openPrivateBetween('r-2', 'r-1', sealed), undefined, 'reflected');
    assert.equal(bob.openPrivateBetween('r-1', 'r-2', `${sealed.slice(0, -2)}AA`), undefined, 'tampered');
    assert.equal(bob.openPrivateBetween('r-1', 'r-2', 'AAAA'), undefined, 'too short');
  });
});
