/**
 * The AES-256-GCM record layer: nonce layout against a direct createCipheriv, ordering and
 * tamper resistance, poisoning after the first failure.
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ChannelError, ChannelOpener, ChannelSealer } from '../../lib/crypto/channel.js';

const isBad = (e: unknown): boolean => e instanceof ChannelError && e.code === 'bad_record';

function directSeal(key: Buffer, counter: bigint, pt: Buffer): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(counter, 4);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

describe('channel records', () => {
  it('nonce = 4 zero bytes | 64-bit BE counter from 0; record body = ct | tag; skip takes a counter', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    for (let i = 0n; i < 5n; i++) {
      const pt = Buffer.from(`{"type":"ping","t":${i}}`);
      assert.deepEqual(s.sealRecord(pt), directSeal(key, i, pt));
    }
    assert.equal(s.skip(), 5);
    assert.deepEqual(s.sealRecord('x', 3).subarray(3), directSeal(key, 6n, Buffer.from('x')));
    assert.equal(s.sealed, 7);
  });

  it('round-trips strings, buffers and the empty record, in order', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    const o = new ChannelOpener(key);
    assert.equal(o.openRecord(s.sealRecord('héllo\n{"a":1}')).toString(), 'héllo\n{"a":1}');
    assert.deepEqual(o.openRecord(s.sealRecord(Buffer.alloc(0))), Buffer.alloc(0));
    const big = randomBytes(100_000);
    assert.deepEqual(o.openRecord(Buffer.from(s.sealRecord(big))), big);
    assert.equal(o.opened, 3);
  });

  it('the two directions are independent (different keys)', () => {
    const c2s = randomBytes(32);
    const s2c = randomBytes(32);
    const rec = new ChannelSealer(c2s).sealRecord('x');
    assert.throws(() => new ChannelOpener(s2c).openRecord(rec), isBad);
  });

  it('replay is refused and poisons the opener', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    const o = new ChannelOpener(key);
    const r0 = s.sealRecord('a');
    const r1 = s.sealRecord('b');
    o.openRecord(r0);
    assert.throws(() => o.openRecord(r0), isBad);
    assert.throws(() => o.openRecord(r1), isBad, 'unusable after a failure');
  });

  it('reordering and truncation (a dropped record) are refused', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    const recs = [s.sealRecord('a'), s.sealRecord('b'), s.sealRecord('c')];
    assert.throws(() => new ChannelOpener(key).openRecord(recs[1]!), isBad);
    const o = new ChannelOpener(key);
    o.openRecord(recs[0]!);
    assert.throws(() => o.openRecord(recs[2]!), isBad);
  });

  it('garbage is refused: empty, too short, cut, extended, not bytes', () => {
    const key = randomBytes(32);
    const good = new ChannelSealer(key).sealRecord('hell');
    for (const bad of [
      Buffer.alloc(0),
      Buffer.alloc(15),
      good.subarray(0, good.length - 1),
      good.subarray(1),
      Buffer.concat([good, Buffer.from([0])]),
      good.toString('base64') as unknown as Buffer,
    ]) {
      assert.throws(() => new ChannelOpener(key).openRecord(bad), isBad);
    }
    assert.equal(new ChannelOpener(key).openRecord(good).toString(), 'hell');
  });

  it('injection: a record sealed with the right key but a forged counter is refused', () => {
    const key = randomBytes(32);
    const o = new ChannelOpener(key);
    assert.throws(() => o.openRecord(directSeal(key, 1n, Buffer.from('x'))), isBad);
  });

  it('destroy zeroes keys and stops both ends', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    const o = new ChannelOpener(key);
    const r = s.sealRecord('a');
    s.destroy();
    o.destroy();
    assert.throws(() => s.sealRecord('b'), ChannelError);
    assert.throws(() => o.openRecord(r), isBad);
    assert.notDeepEqual(key, Buffer.alloc(32), "the caller's buffer is not touched");
  });

  it('rejects keys that are not 32 bytes', () => {
    assert.throws(() => new ChannelSealer(Buffer.alloc(16)), TypeError);
    assert.throws(() => new ChannelOpener(Buffer.alloc(33)), TypeError);
  });
});
