/**
 * The room broadcast key (docs/protocol.md "Records (v3)"): a room's batch of frames is
 * sealed once under it and the same bytes go to every member, each in front of its own
 * member tag. A key is 32 random bytes with a random 8-byte id, made fresh whenever the room's
 * membership changes and never written anywhere, so a (key, nonce) pair cannot come back:
 * not after a restart, not on another daemon of a cluster. The nonce is the key id's first 4
 * bytes and the key's own batch counter, never a room sequence number (history and resume
 * reads batch the same messages again); the batch's last sequence number is associated data.
 *
 * batch = key id (8) | batch counter (u64 BE) | last seq (u64 BE) | ciphertext | GCM tag (16)
 * member tag = HMAC-SHA256(member's tag key, "cmd-chat/v3 member tag" | record counter (u64 BE)
 *              | SHA-256(batch))[0..16]
 * Every member knows the broadcast key, so only the member tag (under a key of that member's
 * own channel) authenticates a broadcast record's place in that member's stream.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { ChannelError, MAX_COUNTER } from './channel.js';
import { wipe } from './secret.js';

export const KEY_ID_BYTES = 8;
export const BROADCAST_KEY_BYTES = 32;
/** Key id, batch counter, last sequence number. */
export const BATCH_HEADER_BYTES = 24;
export const GCM_TAG_BYTES = 16;
export const MEMBER_TAG_BYTES = 16;
const TAG_LABEL = Buffer.from('cmd-chat/v3 member tag', 'latin1');

function writeU64(out: Buffer, value: number, at: number): void {
  out.writeUInt32BE(Math.floor(value / 0x100000000), at);
  out.writeUInt32BE(value >>> 0, at + 4);
}

function readU64(data: Buffer, at: number): number {
  return data.readUInt32BE(at) * 0x100000000 + data.readUInt32BE(at + 4);
}

/** The GCM nonce of a batch: the key id's first 4 bytes | the batch counter (u64 BE). */
function batchNonce(keyId: Buffer, counter: number): Buffer {
  const nonce = Buffer.allocUnsafe(12);
  keyId.copy(nonce, 0, 0, 4);
  writeU64(nonce, counter, 4);
  return nonce;
}

/** One room broadcast key of the daemon: seals batches, counting them. */
export class BroadcastKey {
  readonly id: Buffer;
  private readonly key: Buffer;
  private counter = 0;
  private dead = false;

  constructor(id: Buffer = randomBytes(KEY_ID_BYTES), key: Buffer = randomBytes(BROADCAST_KEY_BYTES)) {
    if (id.length !== KEY_ID_BYTES || key.length !== BROADCAST_KEY_BYTES) {
      throw new TypeError('a broadcast key is 32 bytes with an 8-byte id');
    }
    this.id = Buffer.from(id);
    this.key = Buffer.from(key);
  }

  /** The key's bytes (a copy), for the member's `room_key` frame. */
  material(): Buffer {
    return Buffer.from(this.key);
  }

  /** Batches sealed so far. */
  get sealed(): number {
    return this.counter;
  }

  /** Seals one batch's plaintext; `lastSeq` is the highest room sequence number in it (0: none). */
  seal(plaintext: Buffer, lastSeq: number): Buffer {
    if (this.dead) throw new ChannelError('exhausted', 'broadcast key is destroyed');
    if (this.counter > MAX_COUNTER) throw new ChannelError('exhausted', 'broadcast key exhausted');
    const counter = this.counter++;
    const out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + plaintext.length + GCM_TAG_BYTES);
    this.id.copy(out, 0);
    writeU64(out, counter, 8);
    writeU64(out, lastSeq, 16);
    const cipher = createCipheriv('aes-256-gcm', this.key, batchNonce(this.id, counter));
    cipher.setAAD(out.subarray(0, BATCH_HEADER_BYTES));
    const ct = cipher.update(plaintext);
    cipher.final();
    ct.copy(out, BATCH_HEADER_BYTES);
    cipher.getAuthTag().copy(out, BATCH_HEADER_BYTES + ct.length);
    return out;
  }

  destroy(): void {
    this.dead = true;
    wipe(this.key);
  }
}

/** What a batch says in clear (all of it authenticated). */
export interface BatchHeader {
  keyId: Buffer;
  counter: number;
  lastSeq: number;
}

export function readBatchHeader(batch: Buffer): BatchHeader {
  if (batch.length < BATCH_HEADER_BYTES + GCM_TAG_BYTES)
    throw new ChannelError('bad_record', 'batch too short');
  return { keyId: batch.subarray(0, 8), counter: readU64(batch, 8), lastSeq: readU64(batch, 16) };
}

/** Opens a batch under `key` (whose id is `keyId`); throws ChannelError on any mismatch. */
export function openBatch(key: Buffer, keyId: Buffer, batch: Buffer): { plaintext: Buffer } & BatchHeader {
  const header = readBatchHeader(batch);
  if (!header.keyId.equals(keyId)) throw new ChannelError('bad_record', 'batch sealed under another key');
  const ctEnd = batch.length - GCM_TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', key, batchNonce(keyId, header.counter));
  decipher.setAAD(batch.subarray(0, BATCH_HEADER_BYTES));
  decipher.setAuthTag(batch.subarray(ctEnd));
  try {
    const plaintext = decipher.update(batch.subarray(BATCH_HEADER_BYTES, ctEnd));
    decipher.final();
    return { plaintext, ...header };
  } catch {
    throw new ChannelError('bad_record', 'batch authentication failed');
  }
}

/** SHA-256 of a sealed batch: what a member tag covers (computed once per batch by the daemon). */
export function batchDigest(batch: Buffer): Buffer {
  return createHash('sha256').update(batch).digest();
}

/** A broadcast record's tag in one member's stream: its record counter and the batch digest. */
export function memberTag(tagKey: Buffer, counter: number, digest: Buffer): Buffer {
  const n = Buffer.allocUnsafe(8);
  writeU64(n, counter, 0);
  return createHmac('sha256', tagKey)
    .update(TAG_LABEL)
    .update(n)
    .update(digest)
    .digest()
    .subarray(0, MEMBER_TAG_BYTES);
}
