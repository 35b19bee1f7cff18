/**
 * Key derivation: outputs pinned to values computed independently (Python hashlib/hmac, see
 * the comment by each constant) and re-derived here with plain node:crypto expressions.
 */
import assert from 'node:assert/strict';
import { hkdfSync, randomBytes, scryptSync } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  channelKeys,
  deriveMaster,
  roomFingerprint,
  roomKeyV1,
  roomKeyV2,
  SCRYPT_PARAMS,
  srpPasswordV2,
  verifierV2,
} from '../../lib/crypto/kdf.js';
import { computeVerifier } from '../../lib/crypto/srp.js';

const PASSWORD = 'correct horse ✓';
const SALT = Buffer.from(Array.from({ length: 16 }, (_, i) => i)); // starts with 0x00 on purpose
const ROOM_SALT = Buffer.from(Array.from({ length: 16 }, (_, i) => 16 + i));
const K = Buffer.alloc(32, 7);

// Pinned with Python: hashlib.scrypt / a 6-line hmac HKDF / pow(2, x, N) with pysrp's layout.
const PINNED = {
  master: '55e4e2236080614ff03290c2668f05672e7148a248976615904fc9664fa025c9',
  srpPassword: 'J2i+8+SV8X4DCqk9q5m2o3MmZiCK1G8UCXhCShhwUEY=',
  roomKey: 'b3ab9b60118e65774be9db06bf0b3f968024a529e88f8f52502486d1efada2a9',
  c2s: '4fe43e2cf59accf7111fe1380d53b78ced4f2484c28542b4025446132771f376',
  s2c: 'b422502abb7a2762062964447bffbe02c469c0584bf05ff9c1585c7736566903',
  fingerprint: 'KIEC-ZY6S-7RE5-OHUT-FGLM',
  verifierPrefix: '79f90c860c30aa687e823b22ab3fcd067d1406cbe6ed9b8ff9a7655f42478a5f',
};

const hkdf = (ikm: Buffer, salt: Buffer, info: string, len = 32): Buffer =>
  Buffer.from(hkdfSync('sha256', ikm, salt, info, len));

describe('scrypt master key', () => {
  it('uses the documented parameters', () => {
    assert.deepEqual({ ...SCRYPT_PARAMS }, { N: 32768, r: 8, p: 1, keyLength: 32, maxmem: 64 * 1024 * 1024 });
  });

  it('equals scryptSync with the same parameters and the pinned value', async () => {
    const master = await deriveMaster(PASSWORD, SALT);
    const direct = scryptSync(Buffer.from(PASSWORD, 'utf8'), SALT, 32, {
      N: 2 ** 15,
      r: 8,
      p: 1,
      maxmem: 64 * 1024 * 1024,
    });
    assert.deepEqual(master, direct);
    assert.equal(master.toString('hex'), PINNED.master);
    assert.deepEqual(await deriveMaster(Buffer.from(PASSWORD, 'utf8'), SALT), master);
  });

  it('a different salt gives a different master', async () => {
    const a = await deriveMaster(PASSWORD, SALT);
    const b = await deriveMaster(PASSWORD, ROOM_SALT);
    assert.notDeepEqual(a, b);
  });
});

describe('HKDF derivations', () => {
  const master = Buffer.from(PINNED.master, 'hex');

  it('srpPasswordV2 is the UTF-8 of base64(HKDF(master, "cmd-chat/v2 srp"))', () => {
    const p = srpPasswordV2(master);
    assert.equal(p.toString('utf8'), PINNED.srpPassword);
    assert.deepEqual(p, Buffer.from(hkdf(master, Buffer.alloc(0), 'cmd-chat/v2 srp').toString('base64')));
  });

  it('roomKeyV2 is HKDF(master, room_salt, "cmd-chat-room-key")', () => {
    const k = roomKeyV2(master, ROOM_SALT);
    assert.equal(k.toString('hex'), PINNED.roomKey);
    assert.deepEqual(k, hkdf(master, ROOM_SALT, 'cmd-chat-room-key'));
  });

  it('roomKeyV1 is HKDF(password, room_salt, "cmd-chat-room-key")', () => {
    assert.deepEqual(
      roomKeyV1(PASSWORD, ROOM_SALT),
      hkdf(Buffer.from(PASSWORD), ROOM_SALT, 'cmd-chat-room-key'),
    );
  });

  it('channel keys per direction', () => {
    const { c2s, s2c } = channelKeys(K);
    assert.equal(c2s.toString('hex'), PINNED.c2s);
    assert.equal(s2c.toString('hex'), PINNED.s2c);
    assert.deepEqual(c2s, hkdf(K, Buffer.alloc(0), 'cmd-chat/v2 c2s'));
    assert.notDeepEqual(c2s, s2c);
  });

  it('room fingerprint: 5 groups of 4 base32 characters, first 100 bits of the HKDF output', () => {
    const roomKey = Buffer.from(PINNED.roomKey, 'hex');
    const fp = roomFingerprint(roomKey);
    assert.equal(fp, PINNED.fingerprint);
    assert.match(fp, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){4}$/);
    // Independent base32 of the same bytes.
    const bits =
      BigInt('0x' + hkdf(roomKey, Buffer.alloc(0), 'cmd-chat/v2 fingerprint', 13).toString('hex')) >> 4n;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let s = '';
    for (let i = 19; i >= 0; i--) s += alphabet[Number((bits >> BigInt(5 * i)) & 31n)];
    assert.equal(fp.replace(/-/g, ''), s);
    for (let i = 0; i < 20; i++)
      assert.match(roomFingerprint(randomBytes(32)), /^[A-Z2-7]{4}(-[A-Z2-7]{4}){4}$/);
    assert.notEqual(roomFingerprint(randomBytes(32)), fp);
  });
});

describe('verifierV2', () => {
  it('equals computeVerifier(roomName, srpPasswordV2(master), salt) and the pinned value', async () => {
    const { verifier, master } = await verifierV2('sala-é', PASSWORD, SALT);
    assert.equal(master.toString('hex'), PINNED.master);
    assert.deepEqual(verifier, computeVerifier('sala-é', srpPasswordV2(master), SALT));
    assert.equal(verifier.toString('hex').slice(0, 64), PINNED.verifierPrefix);
    assert.equal(verifier.length, 256);
  });
});
