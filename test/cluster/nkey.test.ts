/**
 * Our nkeys (node:crypto Ed25519, NATS's encoding) are what the maintained nkeys library
 * reads: the seed decodes to the same public key, and a signature verifies with it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromPublic, fromSeed } from '@nats-io/nkeys';
import { crc16, createUserNkey } from '../../lib/cluster/nkey.js';

test('CRC-16/XMODEM check value', () => {
  assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
});

test('a user nkey: SU… seed and U… public key that @nats-io/nkeys agrees with', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const key = createUserNkey();
    const seed = Buffer.from(key.seed).toString('ascii');
    assert.match(seed, /^SU[A-Z2-7]{56}$/);
    assert.match(key.publicKey, /^U[A-Z2-7]{55}$/);
    const pair = fromSeed(new Uint8Array(key.seed));
    assert.equal(pair.getPublicKey(), key.publicKey);
    const nonce = new TextEncoder().encode(`nonce ${i}`);
    assert.ok(fromPublic(key.publicKey).verify(nonce, pair.sign(nonce)));
    seen.add(seed);
  }
  assert.equal(seen.size, 50, 'fresh keys');
});
