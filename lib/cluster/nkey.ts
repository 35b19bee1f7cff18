/**
 * A fresh NATS user nkey made with node:crypto: an Ed25519 key whose seed is encoded as NATS
 * encodes it (`SU…`: prefix bytes, the 32-byte seed, CRC-16/XMODEM, base32 without padding)
 * and whose public key (`U…`) is what a nats-server configuration lists. `serve --workers`
 * gives its private nats-server only the public key; the seed stays in the daemons' memory.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';

/** NATS prefix bytes (the first 5 bits of the encoded form). */
const PREFIX_SEED = 18 << 3;
const PREFIX_USER = 20 << 3;
/** PKCS#8 DER of an Ed25519 private key, before its 32-byte seed. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** CRC-16 with polynomial 0x1021 and initial value 0 (XMODEM), as nkeys check their encoding. */
export function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** RFC 4648 base32 without padding, as bytes of ASCII (so a seed can be zeroed afterwards). */
function base32(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil((data.length * 8) / 5));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const byte of data) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out[o++] = BASE32.charCodeAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out[o++] = BASE32.charCodeAt((value << (5 - bits)) & 31);
  return out;
}

/** Prefix bytes, payload and its CRC (little-endian), base32-encoded; the buffer is zeroed. */
function encode(prefix: number[], payload: Uint8Array): Uint8Array {
  const raw = Buffer.alloc(prefix.length + payload.length + 2);
  raw.set(prefix, 0);
  raw.set(payload, prefix.length);
  raw.writeUInt16LE(crc16(raw.subarray(0, raw.length - 2)), raw.length - 2);
  const text = base32(raw);
  raw.fill(0);
  return text;
}

export interface UserNkey {
  /** The seed as NATS reads it (`SU…`, ASCII bytes): secret, zero it when done. */
  seed: Uint8Array;
  /** The public key (`U…`): what the server's configuration lists. */
  publicKey: string;
}

/** A new random user nkey. */
export function createUserNkey(): UserNkey {
  const seed = randomBytes(32);
  const der = Buffer.concat([PKCS8_ED25519, seed]);
  const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({
    format: 'der',
    type: 'spki',
  });
  der.fill(0);
  const publicKey = Buffer.from(encode([PREFIX_USER], spki.subarray(spki.length - 32))).toString('ascii');
  const encodedSeed = encode([PREFIX_SEED | (PREFIX_USER >> 5), (PREFIX_USER & 31) << 3], seed);
  seed.fill(0);
  return { seed: encodedSeed, publicKey };
}
