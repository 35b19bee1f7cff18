/**
 * Fernet against the spec's generate/verify/invalid vectors and the tokens Python's
 * cryptography made with the original cmd-chat's room keys.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Fernet, FernetError } from '../../lib/crypto/fernet.js';
import { roomKeyV1 } from '../../lib/crypto/kdf.js';
import { vectorsDir } from '../helpers/paths.js';

function load<T>(name: string): T {
  return JSON.parse(readFileSync(join(vectorsDir, name), 'utf8')) as T;
}
const seconds = (iso: string): number => Date.parse(iso) / 1000;

interface GenCase {
  token: string;
  now: string;
  iv: number[];
  src: string;
  secret: string;
}
interface VerifyCase {
  token: string;
  now: string;
  ttl_sec: number;
  src: string;
  secret: string;
}
interface InvalidCase {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}
interface RoomCase {
  password: string;
  room_salt_b64: string;
  room_key_hex: string;
  fernet_key: string;
  tokens: Array<{ text: string; time: number; iv: string; token: string }>;
}

const isInvalid = (e: unknown): boolean => e instanceof FernetError && e.code !== 'bad_key';

describe('Fernet spec: generate.json', () => {
  for (const c of load<GenCase[]>('fernet-spec/generate.json')) {
    it(`generates the token for ${JSON.stringify(c.src)}`, () => {
      const f = new Fernet(c.secret);
      assert.equal(f.encrypt(c.src, { time: seconds(c.now), iv: Buffer.from(c.iv) }), c.token);
      assert.equal(f.decryptText(c.token), c.src);
    });
  }
});

describe('Fernet spec: verify.json', () => {
  for (const c of load<VerifyCase[]>('fernet-spec/verify.json')) {
    it(`verifies ${c.token.slice(0, 16)}… with ttl ${c.ttl_sec}`, () => {
      const f = new Fernet(c.secret);
      assert.equal(f.decryptText(c.token, { ttl: c.ttl_sec, now: seconds(c.now) }), c.src);
      // Without padding too.
      assert.equal(f.decryptText(c.token.replace(/=+$/, ''), { ttl: c.ttl_sec, now: seconds(c.now) }), c.src);
    });
  }
});

describe('Fernet spec: invalid.json', () => {
  const cases = load<InvalidCase[]>('fernet-spec/invalid.json');
  it('has the 8 cases of the spec', () => assert.equal(cases.length, 8));
  for (const c of cases) {
    it(`rejects: ${c.desc}`, () => {
      const f = new Fernet(c.secret);
      assert.throws(() => f.decrypt(c.token, { ttl: c.ttl_sec, now: seconds(c.now) }), isInvalid);
    });
  }
  it('expired TTL is reported as expired, and accepted without a ttl', () => {
    const c = cases.find((x) => x.desc === 'expired TTL');
    assert.ok(c);
    const f = new Fernet(c.secret);
    assert.throws(
      () => f.decrypt(c.token, { ttl: c.ttl_sec, now: seconds(c.now) }),
      (e: unknown) => e instanceof FernetError && e.code === 'expired',
    );
    assert.ok(Buffer.isBuffer(f.decrypt(c.token)));
  });
});

describe('room keys and tokens of the original (Python cryptography)', () => {
  for (const c of load<{ cases: RoomCase[] }>('room-key-hkdf-fernet.json').cases) {
    it(`roomKeyV1 for ${JSON.stringify(c.password)} matches room_key_hex and fernet_key`, () => {
      const key = roomKeyV1(c.password, Buffer.from(c.room_salt_b64, 'base64'));
      assert.equal(key.toString('hex'), c.room_key_hex);
      assert.equal(key.toString('base64url') + '=', c.fernet_key);
      assert.equal(
        roomKeyV1(Buffer.from(c.password, 'utf8'), Buffer.from(c.room_salt_b64, 'base64')).toString('hex'),
        c.room_key_hex,
      );
    });
    for (const t of c.tokens) {
      it(`decrypts and reproduces ${JSON.stringify(t.text).slice(0, 24)} at ${t.time}`, () => {
        const f = new Fernet(c.fernet_key);
        const g = new Fernet(Buffer.from(c.room_key_hex, 'hex'));
        assert.equal(f.decryptText(t.token), t.text);
        assert.equal(g.decryptText(t.token), t.text);
        assert.equal(f.encrypt(t.text, { time: t.time, iv: Buffer.from(t.iv, 'hex') }), t.token);
        assert.equal(
          f.encrypt(Buffer.from(t.text, 'utf8'), { time: t.time, iv: Buffer.from(t.iv, 'hex') }),
          t.token,
        );
      });
    }
  }
});

describe('Fernet API', () => {
  it('rejects bad keys with bad_key', () => {
    for (const k of [
      Buffer.alloc(31),
      Buffer.alloc(33),
      'short',
      '%%%%',
      'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4+',
    ]) {
      assert.throws(
        () => new Fernet(k),
        (e: unknown) => e instanceof FernetError && e.code === 'bad_key',
      );
    }
  });

  it('round-trips binary data and empty input with random IVs', () => {
    const f = new Fernet(randomBytes(32));
    const data = randomBytes(1000);
    assert.deepEqual(f.decrypt(f.encrypt(data)), data);
    assert.equal(f.decryptText(f.encrypt('')), '');
    assert.notEqual(f.encrypt('x'), f.encrypt('x'));
  });

  it('tokens from another key are rejected', () => {
    const a = new Fernet(randomBytes(32));
    const b = new Fernet(randomBytes(32));
    assert.throws(() => b.decrypt(a.encrypt('hi')), isInvalid);
  });

  it('checks the MAC before decrypting: a valid MAC over bad padding is still refused', () => {
    const key = randomBytes(32);
    const f = new Fernet(key);
    const raw = Buffer.from(f.encrypt('hello'), 'base64url');
    raw[raw.length - 33] ^= 0xff; // last ciphertext byte: breaks the padding
    createHmac('sha256', key.subarray(0, 16))
      .update(raw.subarray(0, raw.length - 32))
      .digest()
      .copy(raw, raw.length - 32);
    assert.throws(() => f.decrypt(raw.toString('base64url')), isInvalid);
  });

  it('rejects a wrong version byte, non-canonical base64 and invalid characters', () => {
    const key = randomBytes(32);
    const f = new Fernet(key);
    const tok = f.encrypt('hello');
    const raw = Buffer.from(tok, 'base64url');
    raw[0] = 0x81;
    createHmac('sha256', key.subarray(0, 16))
      .update(raw.subarray(0, raw.length - 32))
      .digest()
      .copy(raw, raw.length - 32);
    assert.throws(() => f.decrypt(raw.toString('base64url')), isInvalid);
    // 'hello' gives 73 bytes: "==" padding, so the last character has 4 unused bits.
    assert.ok(tok.endsWith('=='));
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = tok.length - 3;
    const nonCanonical = tok.slice(0, last) + alphabet[alphabet.indexOf(tok[last]!) | 1] + '==';
    assert.deepEqual(Buffer.from(nonCanonical, 'base64url'), Buffer.from(tok, 'base64url'));
    assert.throws(() => f.decrypt(nonCanonical), isInvalid);
    assert.throws(() => f.decrypt(tok.slice(0, 10) + '+' + tok.slice(11)), isInvalid);
    assert.throws(() => f.decrypt(tok.slice(0, 10) + '/' + tok.slice(11)), isInvalid);
    assert.throws(() => f.decrypt(tok + '='), isInvalid);
    assert.equal(f.decryptText(tok.slice(0, -2)), 'hello');
    assert.throws(() => f.decrypt(' ' + tok), isInvalid);
    assert.throws(() => f.decrypt(tok + '\n'), isInvalid);
    assert.throws(() => f.decrypt(''), isInvalid);
  });

  it('future timestamps: accepted without ttl, refused with ttl beyond the 60 s skew', () => {
    const f = new Fernet(randomBytes(32));
    const tok = f.encrypt('later', { time: 2_000_000_000 });
    assert.equal(f.decryptText(tok), 'later');
    assert.equal(f.decryptText(tok, { ttl: 10, now: 2_000_000_000 - 60 }), 'later');
    assert.throws(() => f.decrypt(tok, { ttl: 10, now: 2_000_000_000 - 61 }), isInvalid);
  });

  it('destroy() zeroes the keys and blocks further use', () => {
    const f = new Fernet(randomBytes(32));
    const tok = f.encrypt('x');
    f.destroy();
    assert.throws(
      () => f.decrypt(tok),
      (e: unknown) => e instanceof FernetError && e.code === 'bad_key',
    );
    assert.throws(
      () => f.encrypt('x'),
      (e: unknown) => e instanceof FernetError && e.code === 'bad_key',
    );
  });
});
