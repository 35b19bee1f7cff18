/**
 * Fernet (https://github.com/fernet/spec), the token format of the original cmd-chat's message
 * bodies, on node:crypto. Layout: 0x80 | 64-bit BE timestamp | 16-byte IV | AES-128-CBC
 * ciphertext (PKCS7) | HMAC-SHA256 over everything before it. The 32-byte key is the signing
 * key (first 16 bytes) followed by the encryption key (last 16). Tokens are base64url with
 * padding; both padded and unpadded input is accepted, but only the canonical spelling.
 *
 * The HMAC is checked (in constant time) before anything is decrypted. Without a ttl, tokens
 * are accepted whatever their age (history replayed to a late joiner must stay readable); with
 * one, tokens older than ttl or more than 60 s in the future are refused, as in the spec.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeBase64Strict, encodeBase64UrlPadded } from './base64.js';
import { wipe } from './secret.js';

export type FernetErrorCode = 'invalid_token' | 'expired' | 'bad_key';

/** Any Fernet failure; the message never contains key material or plaintext. */
export class FernetError extends Error {
  readonly code: FernetErrorCode;
  constructor(code: FernetErrorCode, message: string) {
    super(message);
    this.name = 'FernetError';
    this.code = code;
  }
}

const VERSION = 0x80;
const HEADER = 1 + 8 + 16;
const MAC = 32;
const BLOCK = 16;
/** The spec's tolerated clock skew for timestamps in the future, when a ttl is given. */
export const MAX_CLOCK_SKEW = 60;

export interface FernetDecryptOptions {
  /** Maximum token age in seconds; no age limit when absent. */
  ttl?: number;
  /** Current time in unix seconds (for tests); defaults to the clock. */
  now?: number;
}

export class Fernet {
  private signingKey: Buffer;
  private encryptionKey: Buffer;

  constructor(key: Buffer | string) {
    let raw: Buffer | null;
    if (typeof key === 'string') raw = decodeBase64Strict(key, true, 'optional');
    else if (Buffer.isBuffer(key)) raw = key;
    else raw = null;
    if (raw === null || raw.length !== 32) throw new FernetError('bad_key', 'Fernet key must be 32 bytes');
    this.signingKey = Buffer.from(raw.subarray(0, 16));
    this.encryptionKey = Buffer.from(raw.subarray(16, 32));
    if (typeof key === 'string') wipe(raw);
  }

  /** Generates a fresh random key (base64url, padded), as Fernet.generate_key() does. */
  static generateKey(): string {
    const k = randomBytes(32);
    const s = encodeBase64UrlPadded(k);
    wipe(k);
    return s;
  }

  private live(): void {
    if (this.signingKey.length === 0) throw new FernetError('bad_key', 'Fernet key has been destroyed');
  }

  /** Encrypts to a token; time (unix seconds) and iv are injectable for test vectors. */
  encrypt(plaintext: Buffer | string, opts?: { time?: number; iv?: Buffer }): string {
    this.live();
    const iv = opts?.iv ?? randomBytes(16);
    if (!Buffer.isBuffer(iv) || iv.length !== 16)
      throw new FernetError('invalid_token', 'IV must be 16 bytes');
    const time = opts?.time ?? Math.floor(Date.now() / 1000);
    if (!Number.isSafeInteger(time) || time < 0) throw new FernetError('invalid_token', 'invalid timestamp');
    const cipher = createCipheriv('aes-128-cbc', this.encryptionKey, iv);
    const ct1 = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
    const ct2 = cipher.final();
    const bodyLen = HEADER + ct1.length + ct2.length;
    const token = Buffer.allocUnsafe(bodyLen + MAC);
    token[0] = VERSION;
    token.writeUInt32BE(Math.floor(time / 0x100000000), 1);
    token.writeUInt32BE(time >>> 0, 5);
    iv.copy(token, 9);
    ct1.copy(token, HEADER);
    ct2.copy(token, HEADER + ct1.length);
    createHmac('sha256', this.signingKey).update(token.subarray(0, bodyLen)).digest().copy(token, bodyLen);
    return encodeBase64UrlPadded(token);
  }

  /** Verifies and decrypts a token; throws FernetError ('invalid_token' or 'expired'). */
  decrypt(token: string, opts?: FernetDecryptOptions): Buffer {
    this.live();
    const data = typeof token === 'string' ? decodeBase64Strict(token, true, 'optional') : null;
    if (data === null) throw new FernetError('invalid_token', 'token is not valid base64url');
    if (data.length < HEADER + BLOCK + MAC || (data.length - HEADER - MAC) % BLOCK !== 0) {
      throw new FernetError('invalid_token', 'token has an invalid length');
    }
    if (data[0] !== VERSION) throw new FernetError('invalid_token', 'unknown token version');
    const bodyLen = data.length - MAC;
    const mac = createHmac('sha256', this.signingKey).update(data.subarray(0, bodyLen)).digest();
    if (!timingSafeEqual(mac, data.subarray(bodyLen))) {
      throw new FernetError('invalid_token', 'token signature mismatch');
    }
    if (opts?.ttl !== undefined) {
      const ts = data.readUInt32BE(1) * 0x100000000 + data.readUInt32BE(5);
      const now = opts.now ?? Math.floor(Date.now() / 1000);
      if (ts + opts.ttl < now) throw new FernetError('expired', 'token has expired');
      if (now + MAX_CLOCK_SKEW < ts)
        throw new FernetError('invalid_token', 'token timestamp is in the future');
    }
    const decipher = createDecipheriv('aes-128-cbc', this.encryptionKey, data.subarray(9, HEADER));
    try {
      const p1 = decipher.update(data.subarray(HEADER, bodyLen));
      const p2 = decipher.final();
      if (p2.length === 0) return p1;
      const out = Buffer.concat([p1, p2]);
      wipe(p1, p2);
      return out;
    } catch {
      throw new FernetError('invalid_token', 'token padding is invalid');
    }
  }

  /** decrypt() then UTF-8 decoding. */
  decryptText(token: string, opts?: FernetDecryptOptions): string {
    const pt = this.decrypt(token, opts);
    const s = pt.toString('utf8');
    wipe(pt);
    return s;
  }

  /** Zeroes the keys; every later call throws FernetError('bad_key'). */
  destroy(): void {
    wipe(this.signingKey, this.encryptionKey);
    this.signingKey = Buffer.alloc(0);
    this.encryptionKey = Buffer.alloc(0);
  }
}
