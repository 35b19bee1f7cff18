/** Message envelopes inside Fernet tokens: layout, id format, shape validation. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  EnvelopeError,
  isMessageId,
  newMessageId,
  openEnvelope,
  sealEnvelope,
} from '../../lib/crypto/envelope.js';
import { Fernet, FernetError } from '../../lib/crypto/fernet.js';

const isBadEnvelope = (e: unknown): boolean => e instanceof EnvelopeError && e.code === 'bad_envelope';

describe('envelopes', () => {
  const f = new Fernet(randomBytes(32));

  it('ids are 16 random bytes in unpadded base64url', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const id = newMessageId();
      assert.equal(Buffer.from(id, 'base64url').length, 16);
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      assert.ok(isMessageId(id));
      seen.add(id);
    }
    assert.equal(seen.size, 200);
    assert.equal(isMessageId('A'.repeat(22)), true);
    assert.equal(isMessageId('A'.repeat(21) + 'B'), false, 'non-canonical last character');
    assert.equal(isMessageId('A'.repeat(22) + '=='), false);
  });

  it('seals the exact JSON layout and opens it back', () => {
    const id = newMessageId();
    const tok = sealEnvelope(f, { from: 'ana', kind: 'me', body: 'waves 👋', id });
    assert.equal(f.decryptText(tok), JSON.stringify({ from: 'ana', id, kind: 'me', body: 'waves 👋' }));
    assert.deepEqual(openEnvelope(f, tok), { from: 'ana', id, kind: 'me', body: 'waves 👋' });
    const auto = openEnvelope(f, sealEnvelope(f, { from: 'bo', kind: 'text', body: '' }));
    assert.ok(isMessageId(auto.id));
  });

  it('extra fields are ignored and dropped', () => {
    const id = newMessageId();
    const tok = f.encrypt(JSON.stringify({ from: 'a', id, kind: 'text', body: 'b', extra: 1 }));
    assert.deepEqual(openEnvelope(f, tok), { from: 'a', id, kind: 'text', body: 'b' });
  });

  it('rejects wrong shapes with bad_envelope', () => {
    const id = newMessageId();
    const bad: unknown[] = [
      'not json',
      [1, 2],
      null,
      42,
      { id, kind: 'text', body: 'b' },
      { from: 1, id, kind: 'text', body: 'b' },
      { from: 'a', id: 'short', kind: 'text', body: 'b' },
      { from: 'a', id: id + '==', kind: 'text', body: 'b' },
      { from: 'a', id, kind: 'shout', body: 'b' },
      { from: 'a', id, kind: 'text', body: ['b'] },
      { from: 'a', id, kind: 'text' },
    ];
    for (const b of bad) {
      const tok = f.encrypt(typeof b === 'string' ? b : JSON.stringify(b));
      assert.throws(() => openEnvelope(f, tok), isBadEnvelope, JSON.stringify(b));
    }
    assert.throws(() => openEnvelope(f, f.encrypt(Buffer.from([0x7b, 0xff, 0x7d]))), isBadEnvelope);
  });

  it('a token from another room is a FernetError, not an envelope error', () => {
    const other = new Fernet(randomBytes(32));
    const tok = sealEnvelope(other, { from: 'a', kind: 'text', body: 'b' });
    assert.throws(() => openEnvelope(f, tok), FernetError);
  });

  it('refuses to seal invalid fields', () => {
    assert.throws(() => sealEnvelope(f, { from: 'a', kind: 'bad' as 'text', body: 'b' }), isBadEnvelope);
    assert.throws(() => sealEnvelope(f, { from: 'a', kind: 'text', body: 'b', id: 'x' }), isBadEnvelope);
  });
});
