/**
 * Long-term identities, the passphrase rule, the word list and the safety phrase: the same
 * passphrase and label always give the same fingerprint, anything else another one; the rule
 * passes every generated passphrase and fails short, common and patterned ones; the phrase
 * depends on every member's name and key and on nothing else (not their order).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { createMemberKeys, memberFingerprint } from '../../lib/crypto/identity.js';
import { deriveIdentitySeed, IDENTITY_SCRYPT, identitySalt } from '../../lib/crypto/identity-key.js';
import {
  GENERATED_WORDS,
  generateWordPassphrase,
  MIN_PASSPHRASE_BITS,
  passphraseBits,
  strongEnough,
} from '../../lib/crypto/passphrase.js';
import { SAFETY_SCRYPT, safetyPhrase } from '../../lib/crypto/safety-phrase.js';
import { WORDS } from '../../lib/crypto/wordlist.js';

async function fingerprintOf(passphrase: string, label: string): Promise<string> {
  const seed = await deriveIdentitySeed(passphrase, label);
  return memberFingerprint(createMemberKeys(seed).signPublic);
}

describe('identity keys', () => {
  test('the cost is at least N = 2^18, r = 8', () => {
    assert.ok(IDENTITY_SCRYPT.N >= 2 ** 18 && IDENTITY_SCRYPT.r >= 8);
  });

  test('same passphrase and label: same key; another passphrase or label: another', async () => {
    const phrase = 'orbit velvet candle maple zebra tunnel frost pilot';
    const seed = await deriveIdentitySeed(phrase, 'alice');
    const a = memberFingerprint(createMemberKeys(seed).signPublic);
    assert.equal(await fingerprintOf(phrase, 'alice'), a);
    assert.notEqual(await fingerprintOf(`${phrase} x`, 'alice'), a);
    assert.notEqual(await fingerprintOf(phrase, 'alice2'), a);
    // Two sessions from one seed share the signing key, never the X25519 key.
    const [k1, k2] = [createMemberKeys(seed), createMemberKeys(seed)];
    assert.deepEqual(k1.signPublic, k2.signPublic);
    assert.notDeepEqual(k1.dhPublic, k2.dhPublic);
  });

  test('the salt is the domain and the label, never the domain alone', () => {
    assert.throws(() => identitySalt(''), RangeError);
    assert.notDeepEqual(identitySalt('alice'), identitySalt('bob'));
    assert.ok(identitySalt('alice').toString('utf8').endsWith('\0alice'));
  });
});

describe('the passphrase rule', () => {
  test('every generated passphrase passes', () => {
    for (let i = 0; i < 500; i++) {
      const p = generateWordPassphrase();
      assert.equal(p.split(' ').length, GENERATED_WORDS);
      assert.ok(strongEnough(p), p);
    }
  });

  test('short, common and patterned passphrases fail', () => {
    for (const weak of [
      'password',
      'password123!',
      'Tr0ub4dor&3',
      'correct horse battery staple',
      'abandon ability able about above absent', // six list words in list order
      'zoo zoo zoo zoo zoo zoo zoo zoo', // one word repeated
      'a'.repeat(200),
      'abcdefghijklmnopqrstuvwxyz0123456789',
      'qwertyuiop',
    ]) {
      assert.ok(passphraseBits(weak) < MIN_PASSPHRASE_BITS, `${weak}: ${passphraseBits(weak)}`);
    }
  });

  test('a repeated stretch of other text counts once: a name or a word said nine times fails', () => {
    for (const weak of [
      'alice alice alice alice alice alice alice alice alice',
      'qwerty qwerty qwerty qwerty qwerty qwerty qwerty qwerty qwerty',
      'Password1Password1Password1Password1Password1Password1',
      'iloveyouiloveyouiloveyouiloveyouiloveyouiloveyou',
      'Summer2024! Summer2024! Summer2024! Summer2024!',
    ]) {
      assert.ok(passphraseBits(weak) < MIN_PASSPHRASE_BITS, `${weak}: ${passphraseBits(weak)}`);
    }
    // Counted once, as written the first time.
    assert.equal(passphraseBits('alice alice'), passphraseBits('alice'));
    assert.ok(strongEnough('my cat Ziggy sleeps on the warm oven every winter afternoon, right?'));
  });

  test('six random list words pass, five do not; long plain text passes', () => {
    assert.ok(strongEnough('orbit velvet frost maple zebra tunnel'));
    assert.ok(!strongEnough('orbit velvet frost maple zebra'));
    assert.ok(strongEnough('Mi gato Ñoño duerme sobre el horno cada tarde de invierno, ¿verdad?'));
  });
});

describe('the word list', () => {
  test('is the BIP39 English list', () => {
    assert.equal(WORDS.length, 2048);
    const hash = createHash('sha256')
      .update(`${WORDS.join('\n')}\n`)
      .digest('hex');
    assert.equal(hash, '2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda');
  });
});

describe('the safety phrase', () => {
  const k = (n: number): Buffer => Buffer.alloc(32, n);
  const room = 'ABCD-EFGH-IJKL-MNOP-QRST';
  test('its cost, and nine words (99 bits) that depend on names, keys and the room, not on order', async () => {
    assert.ok(SAFETY_SCRYPT.N >= 2 ** 15 && SAFETY_SCRYPT.r >= 8);
    const members = [
      { name: 'alice', signPublic: k(1) },
      { name: 'bob', signPublic: k(2) },
      { name: 'eve', signPublic: undefined },
    ];
    const p = await safetyPhrase(room, members);
    assert.equal(p.split(' ').length, 9);
    assert.ok(p.split(' ').every((w) => WORDS.includes(w)));
    assert.equal(await safetyPhrase(room, [...members].reverse()), p);
    for (const other of [
      [members[0]!, { name: 'bob', signPublic: k(3) }, members[2]!],
      [members[0]!, { name: 'bob2', signPublic: k(2) }, members[2]!],
      [members[0]!, members[1]!],
      [members[0]!, members[1]!, { name: 'eve', signPublic: k(4) }],
    ]) {
      assert.notEqual(await safetyPhrase(room, other), p);
    }
    assert.notEqual(await safetyPhrase('ABCD-EFGH-IJKL-MNOP-QRSS', members), p);
  });
});
