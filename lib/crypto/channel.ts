/**
 * A member's own channel (docs/protocol.md "Records (v3)", direct records): the body of a
 * direct record is AES-256-GCM(key, nonce = 4 zero bytes | 64-bit BE counter, plaintext) |
 * 16-byte tag. Each direction has its own key and its own record counter starting at 0; in
 * the daemon's direction the counter also numbers the broadcast records (`skip`), so direct
 * and broadcast records share one authenticated order. A replayed, reordered, dropped or
 * injected record fails to open; the first failure poisons the opener because the connection
 * is to be closed.
 *
 * Counters are kept as JS numbers, which caps a direction at 2^53 records (far beyond any
 * connection's life); reaching that throws 'exhausted' rather than ever reusing a nonce.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
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

  /** Takes the next counter value (a broadcast record's place in this direction) without sealing. */
  skip(): number {
    if (this.dead) throw new ChannelError('exhausted', 'channel sealer is closed');
    if (this.counter > MAX_COUNTER) throw new ChannelError('exhausted', 'channel counter exhausted');
    return this.counter++;
  }

  /**
   * Encrypts one record: ciphertext | tag, written into a new buffer after `headroom` bytes
   * left for the caller's record header (one allocation per record).
   */
  sealRecord(plaintext: Buffer | string, headroom = 0): Buffer {
    const counter = this.skip();
    writeNonce(this.nonce, counter);
    const cipher = createCipheriv('aes-256-gcm', this.key, this.nonce);
    const ct = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
    cipher.final(); // GCM is a stream mode: final() yields no bytes, it computes the tag.
    const out = Buffer.allocUnsafe(headroom + ct.length + TAG);
    ct.copy(out, headroom);
    cipher.getAuthTag().copy(out, headroom + ct.length);
    return out;
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

  /**
   * Takes the next counter value for a record that is not opened here (a broadcast record,
   * checked by its member tag); fails like `open` once the opener is dead.
   */
  skip(): number {
    if (this.dead) throw new ChannelError('bad_record', 'channel is closed after a bad record');
    if (this.counter > MAX_COUNTER) this.fail('channel counter exhausted');
    return this.counter++;
  }

  /** Poisons the opener: a record of the stream failed elsewhere (a broadcast record's tag). */
  poison(message: string): never {
    return this.fail(message);
  }

  /** Decrypts one record body (ciphertext | tag); any failure throws and leaves the opener unusable. */
  openRecord(data: Buffer): Buffer {
    if (this.dead) throw new ChannelError('bad_record', 'channel is closed after a bad record');
    if (this.counter > MAX_COUNTER) this.fail('channel counter exhausted');
    if (!Buffer.isBuffer(data)) return this.fail('record is not bytes');
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
