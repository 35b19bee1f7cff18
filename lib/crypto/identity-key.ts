/**
 * A long-term identity from a personal passphrase, nothing stored: scrypt (N = 2^18, r = 8,
 * p = 1: 256 MiB and about half a second per guess) turns the passphrase into the 32-byte
 * seed of the member's Ed25519 signing key, so the same person has the same fingerprint in
 * every session, room and daemon. The salt is a fixed domain string and a label the user
 * chooses (default: the name), never the domain alone, so one precomputed table cannot serve
 * every user. Only the signing key is long-term: the X25519 key of private messages stays
 * per session (identity.ts).
 */
import { createPrivateKey, type KeyObject, scrypt } from 'node:crypto';

/** scrypt's cost for identities: memory 128·N·r = 256 MiB per guess. */
export const IDENTITY_SCRYPT = { N: 2 ** 18, r: 8, p: 1 } as const;
/** Node refuses more memory than this; a little over what the parameters need. */
const MAXMEM = 288 * 1024 * 1024;
const SALT_DOMAIN = 'cmd-chat/v2 identity';
const SEED_BYTES = 32;
/** A label longer than this is refused (it is a name, not a secret). */
export const MAX_IDENTITY_LABEL = 256;
// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): SEQUENCE { 0, AlgorithmIdentifier, OCTET STRING }.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The salt for `label`: the domain string, a zero byte, the label's NFKC UTF-8 bytes. */
export function identitySalt(label: string): Buffer {
  const normal = label.normalize('NFKC');
  if (normal.length === 0 || normal.length > MAX_IDENTITY_LABEL) {
    throw new RangeError(`the identity label must be 1 to ${MAX_IDENTITY_LABEL} characters`);
  }
  return Buffer.concat([Buffer.from(SALT_DOMAIN, 'utf8'), Buffer.from([0]), Buffer.from(normal, 'utf8')]);
}

/** The 32-byte signing seed of `passphrase` under `label` (the caller wipes it). */
export function deriveIdentitySeed(passphrase: string | Buffer, label: string): Promise<Buffer> {
  const secret =
    typeof passphrase === 'string' ? Buffer.from(passphrase.normalize('NFKC'), 'utf8') : passphrase;
  const salt = identitySalt(label);
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, SEED_BYTES, { ...IDENTITY_SCRYPT, maxmem: MAXMEM }, (err, key) => {
      if (typeof passphrase === 'string') secret.fill(0);
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/** The Ed25519 private key whose seed is `seed` (32 bytes; copied, so the caller may wipe it). */
export function signingKeyFromSeed(seed: Buffer): KeyObject {
  if (seed.length !== SEED_BYTES) throw new RangeError('an identity seed is 32 bytes');
  const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}
