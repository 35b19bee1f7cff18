/**
 * The v3 record layer after the handshake (docs/protocol.md "Records (v3)"): binary,
 * length-prefixed records, `length (u32 BE) | kind (1 byte) | body`, where length counts the
 * kind and the body. Kind 1 is a direct record on the member's own channel (lib/crypto/
 * channel.ts); kind 2, daemon to client only, a broadcast record: the member's tag, then the
 * room's batch sealed once (lib/crypto/broadcast.ts). Both kinds share the direction's record
 * counter, so a member's stream has one authenticated order.
 *
 * `MemberStream` is the daemon's side of one member; `DaemonStreamReader` the client's
 * verifier of what the daemon sends; `sealClientRecord`/`openClientRecord` the other direction.
 */

import { timingSafeEqual } from 'node:crypto';
import {
  BROADCAST_KEY_BYTES,
  batchDigest,
  KEY_ID_BYTES,
  MEMBER_TAG_BYTES,
  memberTag,
  openBatch,
} from '../crypto/broadcast.js';
import { ChannelError, type ChannelOpener, type ChannelSealer } from '../crypto/channel.js';
import { wipe } from '../crypto/secret.js';

export const RECORD_DIRECT = 1;
export const RECORD_BROADCAST = 2;
/** Length prefix and kind. */
export const RECORD_HEAD_BYTES = 5;
/** A broadcast record's bytes before the shared batch: length, kind, member tag. */
export const BROADCAST_HEAD_BYTES = RECORD_HEAD_BYTES + MEMBER_TAG_BYTES;

/** Seals a direct record (complete, length prefix included) with `sealer`. */
export function sealDirect(sealer: ChannelSealer, plaintext: Buffer | string): Buffer {
  const out = sealer.sealRecord(plaintext, RECORD_HEAD_BYTES);
  out.writeUInt32BE(out.length - 4, 0);
  out[4] = RECORD_DIRECT;
  return out;
}

/** The client's records: direct only. `record` is kind | body, as the decoder yields it. */
export function openDirect(opener: ChannelOpener, record: Buffer): Buffer {
  if (record.length < 1 || record[0] !== RECORD_DIRECT) opener.poison('not a direct record');
  return opener.openRecord(record.subarray(1));
}

/** The daemon's side of one member's stream (daemon → member). */
export class MemberStream {
  private readonly tagKey: Buffer;

  constructor(
    private readonly sealer: ChannelSealer,
    tagKey: Buffer,
  ) {
    this.tagKey = Buffer.from(tagKey);
  }

  /** A direct record on the member's own channel. */
  direct(plaintext: Buffer | string): Buffer {
    return sealDirect(this.sealer, plaintext);
  }

  /** The head of a broadcast record carrying `batch` (whose digest is `digest`): write `batch` right after it. */
  broadcastHead(batch: Buffer, digest: Buffer): Buffer {
    const head = Buffer.allocUnsafe(BROADCAST_HEAD_BYTES);
    head.writeUInt32BE(1 + MEMBER_TAG_BYTES + batch.length, 0);
    head[4] = RECORD_BROADCAST;
    memberTag(this.tagKey, this.sealer.skip(), digest).copy(head, RECORD_HEAD_BYTES);
    return head;
  }

  destroy(): void {
    this.sealer.destroy();
    wipe(this.tagKey);
  }
}

/**
 * The client's verifier of the daemon's stream: every record, direct or broadcast, must be
 * the next one of this member's stream (dropped, replayed, reordered, truncated or injected
 * records fail), and a broadcast batch must be sealed under the room key the daemon handed
 * this member last (`setRoomKey`, from a `room_key` frame of its own channel). The first
 * failure poisons the reader.
 */
export class DaemonStreamReader {
  private readonly tagKey: Buffer;
  private roomKey: { id: Buffer; key: Buffer } | undefined;

  constructor(
    private readonly opener: ChannelOpener,
    tagKey: Buffer,
  ) {
    this.tagKey = Buffer.from(tagKey);
  }

  /** The broadcast key for the records that follow (the previous one is wiped). */
  setRoomKey(id: Buffer, key: Buffer): void {
    if (id.length !== KEY_ID_BYTES || key.length !== BROADCAST_KEY_BYTES) this.opener.poison('bad room key');
    if (this.roomKey) wipe(this.roomKey.key);
    this.roomKey = { id: Buffer.from(id), key: Buffer.from(key) };
  }

  /** Opens one record (kind | body); returns its plaintext. */
  open(record: Buffer): Buffer {
    const kind = record[0];
    if (kind === RECORD_DIRECT) return this.opener.openRecord(record.subarray(1));
    if (kind !== RECORD_BROADCAST) return this.opener.poison('unknown record kind');
    const counter = this.opener.skip();
    if (record.length < 1 + MEMBER_TAG_BYTES) return this.opener.poison('broadcast record too short');
    const batch = record.subarray(1 + MEMBER_TAG_BYTES);
    const expected = memberTag(this.tagKey, counter, batchDigest(batch));
    if (!timingSafeEqual(expected, record.subarray(1, 1 + MEMBER_TAG_BYTES))) {
      return this.opener.poison('broadcast record is not the next of this stream');
    }
    const key = this.roomKey;
    if (!key) return this.opener.poison('broadcast record before any room key');
    try {
      return openBatch(key.key, key.id, batch).plaintext;
    } catch (err) {
      return this.opener.poison(err instanceof ChannelError ? err.message : 'bad batch');
    }
  }

  destroy(): void {
    this.opener.destroy();
    wipe(this.tagKey);
    if (this.roomKey) wipe(this.roomKey.key);
    this.roomKey = undefined;
  }
}
