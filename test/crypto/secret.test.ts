/** wipe(): zeroes every given buffer, skips null and undefined. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wipe } from '../../lib/crypto/secret.js';

describe('wipe', () => {
  it('zeroes Buffers, Uint8Arrays and views, ignoring null/undefined', () => {
    const a = Buffer.from('secret');
    const b = new Uint8Array([1, 2, 3]);
    const backing = Buffer.from([9, 9, 9, 9]);
    wipe(a, null, b, undefined, backing.subarray(1, 3));
    assert.deepEqual(a, Buffer.alloc(6));
    assert.deepEqual(b, new Uint8Array(3));
    assert.deepEqual(backing, Buffer.from([9, 0, 0, 9]));
    wipe();
  });
});
