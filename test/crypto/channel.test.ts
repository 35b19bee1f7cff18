/**
 * The AES-256-GCM record layer: nonce layout against a direct createCipheriv, ordering and
 * tamper resistance, poisoning after the first failure.
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ChannelError, ChannelOpener, ChannelSealer } from '../../lib/crypto/channel.js';

const isBad = (e: unknown): boolean => e instanceof ChannelError && e.code === 'bad_record';

function directSeal(key: Buffer, counter: bigint, pt: Buffer): string {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(counter, 4);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]).toString('base64');
}

describe('channel records', () => {
  it('nonce = 4 zero bytes | 64-bit BE counter from 0; record = base64(ct | tag)', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    for (let i = 0n; i < 5n; i++) {
      const pt = Buffer.from(`{"type":"ping","t":${i}}`);
      assert.equal(s.seal(pt), directSeal(key, i, pt));
    }
    assert.equal(s.sealed, 5);
  });

  it('round-trips strings, buffers and the empty record, in order', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    const o = new ChannelOpener(key);
    assert.equal(o.open(s.seal('héllo\n{"a":1}')).toString(), 'héllo\n{"a":1}');
    assert.deepEqual(o.open(s.seal(Buffer.alloc(0))), Buffer.alloc(0));
    const big = randomBytes(100_000);
    assert.deepEqual(o.open(Buffer.from(s.seal(big))), big);
    assert.equal(o.opened, 3);
  });

  it('records are single lines of padded standard base64', () => {
    const s = new ChannelSealer(randomBytes(32));
    for (let n = 0; n < 40; n++) {
      const line = s.seal(randomBytes(n));
      assert.match(line, /^[A-Za-z0-9+/]*={0,2}$/);
      assert.equal(line.length % 4, 0);
    }
  });

  it('the two directions are independent (different keys)', () => {
    const c2s = randomBytes(32);
    const s2c = randomBytes(32);
    const rec = new ChannelSealer(c2s).seal('x');
    assert.throws(() => new ChannelOpener(s2c).open(rec), isBad);
  });

  it('replay is refused and poisons the opener', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    const o = new ChannelOpener(key);
    const r0 = s.seal('a');
    const r1 = s.seal('b');
    o.open(r0);
    assert.throws(() => o.open(r0), isBad);
    assert.throws(() => o.open(r1), isBad, 'unusable after a failure');
  });

  it('reordering and truncation (a dropped record) are refused', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    const recs = [s.seal('a'), s.seal('b'), s.seal('c')];
    assert.throws(() => new ChannelOpener(key).open(recs[1]!), isBad);
    const o = new ChannelOpener(key);
    o.open(recs[0]!);
    assert.throws(() => o.open(recs[2]!), isBad);
  });

  it('garbage is refused: bad base64, too short, non-canonical, whitespace, newline', () => {
    const key = randomBytes(32);
    const good = new ChannelSealer(key).seal('hell');
    for (const bad of [
      '',
      '!!!!',
      'AAAA',
      good + '\n',
      ' ' + good,
      good.slice(0, -4),
      good.replace(/=+$/, ''),
      good + 'A===',
    ]) {
      assert.throws(() => new ChannelOpener(key).open(bad), isBad, JSON.stringify(bad));
    }
    // 'hell' + tag = 20 bytes: one '=' and 2 unused bits in the last character.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = good.length - 2;
    const nonCanonical = good.slice(0, last) + alphabet[alphabet.indexOf(good[last]!) | 1] + '=';
    assert.deepEqual(Buffer.from(nonCanonical, 'base64'), Buffer.from(good, 'base64'));
    assert.throws(() => new ChannelOpener(key).open(nonCanonical), isBad);
    assert.ok(good.endsWith('=') && !good.endsWith('=='));
    assert.equal(new ChannelOpener(key).open(good).toString(), 'hell');
  });

  it('injection: a record sealed with the right key but a forged counter is refused', () => {
    const key = randomBytes(32);
    const o = new ChannelOpener(key);
    assert.throws(() => o.open(directSeal(key, 1n, Buffer.from('x'))), isBad);
  });

  it('destroy zeroes keys and stops both ends', () => {
    const key = randomBytes(32);
    const s = new ChannelSealer(key);
    const o = new ChannelOpener(key);
    const r = s.seal('a');
    s.destroy();
    o.destroy();
    assert.throws(() => s.seal('b'), ChannelError);
    assert.throws(() => o.open(r), isBad);
    assert.notDeepEqual(key, Buffer.alloc(32), "the caller's buffer is not touched");
  });

  it('rejects keys that are not 32 bytes', () => {
    assert.throws(() => new ChannelSealer(Buffer.alloc(16)), TypeError);
    assert.throws(() => new ChannelOpener(Buffer.alloc(33)), TypeError);
  });
});
