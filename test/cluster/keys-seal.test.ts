/**
 * The cluster's keyed subjects and sealed payloads, without a server: subjects hide room
 * names and depend on the secret; a payload opens only with the key and under its own
 * subject (which payloads a daemon accepts: test/cluster/peers.test.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { controlSubject, deriveClusterKeys, roomSubject } from '../../lib/cluster/keys.js';
import { type Envelope, open, seal } from '../../lib/cluster/seal.js';

const secret = randomBytes(32);
const keys = deriveClusterKeys(secret);
const node = randomBytes(16).toString('hex');

function envelope(seq: number, at = Date.now(), from = node): Envelope {
  return { from, seq, at, event: { type: 'message', text: 'gAAAA-token' } };
}

test('a short cluster secret is refused without echoing it', () => {
  const short = Buffer.from('tooshort-secret-value');
  assert.throws(
    () => deriveClusterKeys(short),
    (err: Error) => /at least 32 bytes/.test(err.message) && !err.message.includes('tooshort'),
  );
});

test('room subjects are keyed hashes: stable per secret, different per room and per secret', () => {
  const s = roomSubject(keys, 'general');
  assert.match(s, /^cc\.[0-9a-f]{32}$/);
  assert.equal(roomSubject(deriveClusterKeys(Buffer.from(secret)), 'general'), s);
  assert.notEqual(roomSubject(keys, 'general2'), s);
  assert.notEqual(roomSubject(deriveClusterKeys(randomBytes(32)), 'general'), s);
  assert.notEqual(controlSubject(keys), s);
  assert.ok(!s.includes('general'));
  // The seal key and the subject key are independent of each other and of the secret.
  assert.notDeepEqual(keys.sealKey, keys.subjectKey);
  assert.notDeepEqual(keys.sealKey, secret);
});

test('a sealed payload opens with the key under its subject only, and hides its content', () => {
  const subject = roomSubject(keys, 'general');
  const sealed = seal(keys.sealKey, subject, envelope(1));
  assert.ok(!Buffer.from(sealed).toString('latin1').includes('gAAAA-token'));
  assert.deepEqual(open(keys.sealKey, subject, sealed)?.event, { type: 'message', text: 'gAAAA-token' });
  // Moved to another room's subject, under another key, or altered: it does not open.
  assert.equal(open(keys.sealKey, roomSubject(keys, 'other'), sealed), undefined);
  assert.equal(open(deriveClusterKeys(randomBytes(32)).sealKey, subject, sealed), undefined);
  for (const at of [0, 5, sealed.length - 1]) {
    const bad = Buffer.from(sealed);
    bad[at]! ^= 1;
    assert.equal(open(keys.sealKey, subject, bad), undefined, `flipped byte ${at}`);
  }
  assert.equal(open(keys.sealKey, subject, new Uint8Array(3)), undefined);
  // Two seals of the same envelope differ (random nonces).
  assert.notDeepEqual(seal(keys.sealKey, subject, envelope(1)), sealed);
});

test('a sealed envelope of the wrong shape is refused', () => {
  const subject = controlSubject(keys);
  const bad = { from: 'not-hex', seq: 1, at: Date.now(), event: {} };
  assert.equal(open(keys.sealKey, subject, seal(keys.sealKey, subject, bad)), undefined);
  const noEvent = { ...envelope(1), event: [] as unknown as Record<string, unknown> };
  assert.equal(open(keys.sealKey, subject, seal(keys.sealKey, subject, noEvent)), undefined);
});
