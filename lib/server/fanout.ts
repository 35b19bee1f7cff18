/**
 * A room's fan-out under protocol v3 (docs/protocol.md "Records (v3)"): the frames the room
 * sends to all its up-to-date members within one turn gather in one `SharedBatch`, sealed
 * once under the room broadcast key; every member's queue holds a reference to it, and each
 * member's link writes its own 21-byte head (length, kind, member tag) before the same bytes.
 * The broadcast key is replaced before the first batch after any change of membership (a
 * join, a leave, a removal), and each member present then is handed the new key on its own
 * channel first: a member that is gone never gets a key that opens what is sent after.
 *
 * Memory: a batch's bytes count once in `sharedBytesLive` (what `--max-queue-total` adds up)
 * for as long as one member still has to take it, and in full against each member's own
 * `--max-queue`.
 */
import { BroadcastKey, batchDigest } from '../crypto/broadcast.js';

/** Bytes of the shared batches some member has not taken yet, each counted once. */
let liveBytes = 0;

export function sharedBytesLive(): number {
  return liveBytes;
}

export class SharedBatch {
  private frames: string[] = [];
  /** The size the queues count (frames and separators, in UTF-16 units like direct frames). */
  counted = 0;
  private lastSeq = 0;
  private sealedBytes: Buffer | undefined;
  private digestBytes: Buffer | undefined;
  private refs = 0;
  /** Sealed, or taken by everyone: nothing can be added. */
  private frozen = false;
  /** An original (v1) member takes the frames as text. */
  private textWanted = false;

  constructor(private readonly key: BroadcastKey) {}

  /** Frames can still be added (not sealed yet). */
  get isOpen(): boolean {
    return !this.frozen;
  }

  append(json: string, seq: number): void {
    this.frames.push(json);
    this.counted += json.length + 1;
    if (seq > this.lastSeq) this.lastSeq = seq;
    if (this.refs > 0) liveBytes += json.length + 1;
  }

  /** A member's queue takes a reference (`text`: it is an original client and reads the frames). */
  hold(text = false): void {
    if (text) this.textWanted = true;
    if (this.refs++ === 0) liveBytes += this.counted;
  }

  /** A member took it (or is gone). */
  release(): void {
    if (--this.refs > 0) return;
    liveBytes -= this.counted;
    this.frozen = true;
    this.frames = [];
    this.sealedBytes = undefined;
  }

  /** The sealed batch (sealed on first use, then frozen). */
  sealed(): Buffer {
    if (this.sealedBytes === undefined) {
      this.frozen = true;
      this.sealedBytes = this.key.seal(Buffer.from(this.frames.join('\n'), 'utf8'), this.lastSeq);
      this.digestBytes = batchDigest(this.sealedBytes);
      if (!this.textWanted) this.frames = [];
    }
    return this.sealedBytes;
  }

  /** SHA-256 of the sealed batch, what each member's tag covers. */
  digest(): Buffer {
    this.sealed();
    return this.digestBytes!;
  }

  /** The frames as lines, for an original client. */
  text(): string {
    return this.frames.join('\n');
  }
}

/** A member as the fan-out sees it. */
export interface BatchPeer {
  /** Queues one serialised frame on the member's own channel. */
  sendSerialized(json: string): void;
  /** Queues a reference to `batch` (absent: a peer that takes frames one by one). */
  sendBatch?(batch: SharedBatch): void;
  /** Whether `batch` is the last thing queued for this member (frames added to it reach the member in order). */
  holdsLast?(batch: SharedBatch): boolean;
  /** `batch`, last in this member's queue, grew by `bytes`. */
  grew?(bytes: number): void;
  /** Takes broadcast records (a v3 channel); an original client does not need the key. */
  readonly takesBroadcast?: boolean;
}

export class RoomFanout {
  private key: BroadcastKey | undefined;
  private stale = true;
  private open: SharedBatch | undefined;
  private openRefs = 0;

  /** `members`: every member of the room now (each gets a new key). */
  constructor(private readonly members: () => Iterable<BatchPeer>) {}

  /** Someone joined, left or was removed: the next batch is sealed under a new key. */
  membersChanged(): void {
    this.stale = true;
  }

  /**
   * Sends one frame to `recipients` (each in its own order of frames): added to the batch
   * being filled when it is the last thing queued for exactly these members, else in a new one.
   */
  send(recipients: readonly BatchPeer[], json: string, seq = 0): void {
    const open = this.open;
    let batched = 0;
    for (const peer of recipients) if (peer.sendBatch) batched++;
    if (open?.isOpen && !this.stale && batched === this.openRefs && batched > 0) {
      let all = true;
      for (const peer of recipients) {
        if (peer.sendBatch && !peer.holdsLast!(open)) {
          all = false;
          break;
        }
      }
      if (all) {
        open.append(json, seq);
        for (const peer of recipients) {
          if (peer.sendBatch) peer.grew!(json.length + 1);
          else peer.sendSerialized(json);
        }
        return;
      }
    }
    if (batched === 0) {
      for (const peer of recipients) peer.sendSerialized(json);
      return;
    }
    const batch = new SharedBatch(this.currentKey());
    batch.append(json, seq);
    this.open = batch;
    this.openRefs = batched;
    for (const peer of recipients) {
      if (peer.sendBatch) peer.sendBatch(batch);
      else peer.sendSerialized(json);
    }
  }

  /** The key of a new batch; a new one, handed to every member first, after a change of membership. */
  private currentKey(): BroadcastKey {
    if (this.key && !this.stale) return this.key;
    // What is queued under the old key is sealed with it before it is destroyed.
    if (this.open?.isOpen) this.open.sealed();
    this.open = undefined;
    this.key?.destroy();
    const key = new BroadcastKey();
    const material = key.material();
    const frame = JSON.stringify({
      type: 'room_key',
      id: key.id.toString('base64'),
      key: material.toString('base64'),
    });
    material.fill(0);
    for (const peer of this.members()) if (peer.takesBroadcast) peer.sendSerialized(frame);
    this.key = key;
    this.stale = false;
    return key;
  }

  /** The room is gone. */
  dispose(): void {
    if (this.open?.isOpen) this.open.sealed();
    this.open = undefined;
    this.key?.destroy();
    this.key = undefined;
  }
}
