/**
 * The v2 record layer (PROTOCOL.md "Channel"): every line after H_AMK is
 * base64(AES-256-GCM(key, nonce = 4 zero bytes | 64-bit BE counter, plaintext) | 16-byte tag),
 * standard alphabet, padded, no newline. Each direction has its own key and its own counter
 * starting at 0, so a replayed, reordered, dropped or injected record fails to open; the
 * first failure poisons the opener because the connection is to be closed.
 *
 * The daemon seals one record per member per tick, so the hot path avoids extra copies: the
 * nonce buffer is reused and the output is assembled in one allocation. Counters are kept as
 * JS numbers, which caps a direction at 2^53 records (far beyond any connection's life);
 * reaching that throws 'exhausted' rather than ever reusing a nonce.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { decodeBase64Strict } from './base64.js';
import { wipe } from './secret.js';

export type ChannelErrorCode = 'bad_record' | 'exhausted';

/** A record that cannot be opened (or a direction out of nonces); the connection must close. */
export class ChannelError extends Error {
  readonly code: ChannelErrorCode;
  constructor(code: ChannelErrorCode, message: string) {
    super(message);
    this.name = 'ChannelError';
    this.code = code;
  }
}

const TAG = 16;
const KEY = 32;
/** Last counter value a direction may use. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

function copyKey(key: Buffer): Buffer {
  if (!Buffer.isBuffer(key) || key.length !== KEY) throw new TypeError('channel key must be 32 bytes');
  return Buffer.from(key);
}

/** Writes the 12-byte GCM nonce for `counter` into `nonce` (first 4 bytes stay zero). */
export function writeNonce(nonce: Buffer, counter: number): void {
  nonce.writeUInt32BE(Math.floor(counter / 0x100000000), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
}

/** What both ends of one direction hold: a private copy of the key, the nonce, the counter. */
abstract class ChannelDirection {
  protected readonly key: Buffer;
  protected readonly nonce = Buffer.alloc(12);
  protected counter = 0;
  protected dead = false;

  constructor(key: Buffer) {
    this.key = copyKey(key);
  }

  /** Zeroes the key; later use throws. */
  destroy(): void {
    this.dead = true;
    wipe(this.key);
  }
}

/** Seals outgoing records for one direction. */
export class ChannelSealer extends ChannelDirection {
  /** Number of records sealed so far (= the counter of the next record). */
  get sealed(): number {
    return this.counter;
  }

  /** Encrypts one record and returns its line (without the newline). */
  seal(plaintext: Buffer | string): string {
    if (this.dead) throw new ChannelError('exhausted', 'channel sealer is closed');
    if (this.counter > MAX_COUNTER) throw new ChannelError('exhausted', 'channel counter exhausted');
    writeNonce(this.nonce, this.counter);
    this.counter++;
    const cipher = createCipheriv('aes-256-gcm', this.key, this.nonce);
    const ct = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
    cipher.final(); // GCM is a stream mode: final() yields no bytes, it computes the tag.
    const tag = cipher.getAuthTag();
    if (ct.length === 0) return tag.toString('base64');
    const out = Buffer.allocUnsafe(ct.length + TAG);
    ct.copy(out, 0);
    tag.copy(out, ct.length);
    return out.toString('base64');
  }
}

/** Opens incoming records for one direction, strictly in order. */
export class ChannelOpener extends ChannelDirection {
  /** Number of records opened so far. */
  get opened(): number {
    return this.counter;
  }

  private fail(message: string): never {
    this.dead = true;
    throw new ChannelError('bad_record', message);
  }

  /** Decrypts one record line; any failure throws and leaves the opener unusable. */
  open(record: string | Buffer): Buffer {
    if (this.dead) throw new ChannelError('bad_record', 'channel is closed after a bad record');
    if (this.counter > MAX_COUNTER) this.fail('channel counter exhausted');
    let text: string;
    if (typeof record === 'string') text = record;
    else if (Buffer.isBuffer(record)) text = record.toString('latin1');
    else return this.fail('record is not text');
    const data = decodeBase64Strict(text, false, 'required');
    if (data === null) return this.fail('record is not valid base64');
    if (data.length < TAG) return this.fail('record is too short');
    writeNonce(this.nonce, this.counter);
    const ctLen = data.length - TAG;
    const decipher = createDecipheriv('aes-256-gcm', this.key, this.nonce);
    decipher.setAuthTag(data.subarray(ctLen));
    let pt: Buffer;
    try {
      pt = decipher.update(data.subarray(0, ctLen));
      decipher.final();
    } catch {
      return this.fail('record authentication failed');
    }
    this.counter++;
    return pt;
  }
}
