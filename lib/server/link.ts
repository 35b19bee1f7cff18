/**
 * One client connection as the daemon sees it: decoding with limits (handshake lines, then
 * v3 binary records), the switch from the plaintext handshake to the sealed channel, the
 * member's queue of its own frames and of references to its rooms' shared batches (written
 * with one member tag each, corked so a turn's records leave in one writev), the size of what
 * waits for the peer (the daemon judges slow readers), and flood control by pausing reads
 * (per member in frames and bytes, per room in bytes; every frame of a record is charged
 * before it is handled). It also keeps the signs of life the keepalive sweep judges.
 */
import { ChannelOpener, ChannelSealer } from '../crypto/channel.js';
import { parseObject } from '../protocol/codec.js';
import { type ErrorCode, ErrorText, handshakeErrorFrame, ProtocolError } from '../protocol/errors.js';
import { MemberStream, openDirect } from '../protocol/records.js';
import { WireDecoder } from '../protocol/wire-decoder.js';
import type { Connection } from '../transport/transport.js';
import type { BatchPeer, SharedBatch } from './fanout.js';
import { TokenBucket } from './rate.js';

export interface LinkOptions {
  maxHandshakeLineBytes: number;
  maxRecordBytes: number;
  maxQueueBytes: number;
  rateFramesPerSecond: number;
  rateBurst: number;
  rateBytesPerSecond: number;
  rateBurstBytes: number;
}

export interface LinkHandler {
  /** A frame: plaintext before the channel is up, opened from a record after. */
  onFrame(frame: Record<string, unknown>): void;
  /** The link is closed, for whatever reason (called once). */
  onClose(reason: CloseReason): void;
  /** What waits for the peer went above `maxQueueBytes` (may be called often: keep it cheap). */
  onQueueOver?(): void;
}

export type CloseReason = ErrorCode | 'peer_closed' | 'shutdown';

/** What a member's queue holds: its own frames (serialised) and references to shared batches. */
type Queued = string | SharedBatch;

export class Link implements BatchPeer {
  userId = '';
  /** The room's shared inflow bucket (bytes), once the member belongs to a room. */
  roomInflow: TokenBucket | undefined;
  private readonly decoder: WireDecoder;
  private opener: ChannelOpener | undefined;
  private stream: MemberStream | undefined;
  /** Authenticated: by a channel (v3) or in plaintext (an original v1 client). */
  private authenticated = false;
  private outbox: Queued[] = [];
  /** Characters of the member's own frames in the outbox. */
  private directBytes = 0;
  /** Shared batches this member has not taken yet (queued, or in the socket), and their counted size. */
  private readonly held = new Set<SharedBatch>();
  private heldBytes = 0;
  /** Bytes of broadcast records handed to the socket and not yet passed on (part of writableLength). */
  private socketShared = 0;
  private flushScheduled = false;
  private closed = false;
  /** Set while close() runs, so that queueing its farewell frame cannot re-enter close(). */
  private closing = false;
  /** A unit read but not yet paid for (flood control). */
  private heldUnit: string | Buffer | undefined;
  /** Frames opened from a record but not yet handled, from `frameIndex` on. */
  private frames: string[] = [];
  private frameIndex = 0;
  private paused = false;
  /** Since when (monotonic ms) the queue has been seen above the bound; the daemon's bookkeeping. */
  overSince: number | undefined;
  private readonly frameBucket: TokenBucket;
  private readonly byteBucket: TokenBucket;
  private resumeTimer: NodeJS.Timeout | undefined;
  private handler: LinkHandler | undefined;
  /** Keepalive: monotonic ms of the last bytes read, and of the last ping sent. */
  private lastHeard = performance.now();
  lastPing = Number.NEGATIVE_INFINITY;
  /** Bytes handed to the stream, those the stream had passed on at the last look, and whether it held some back. */
  private written = 0;
  private passedOn = 0;
  private heldBack = false;

  constructor(
    readonly conn: Connection,
    private readonly options: LinkOptions,
  ) {
    this.decoder = new WireDecoder(options.maxHandshakeLineBytes);
    this.frameBucket = new TokenBucket(options.rateFramesPerSecond, options.rateBurst);
    this.byteBucket = new TokenBucket(options.rateBytesPerSecond, options.rateBurstBytes);
  }

  /** Starts reading; frames go to `handler`. */
  start(handler: LinkHandler): void {
    this.handler = handler;
    const stream = this.conn.stream;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.close('peer_closed'));
    stream.on('error', () => this.close('peer_closed'));
    stream.on('close', () => this.close('peer_closed'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether the keepalive can ping the peer: a sealed channel (original clients have none). */
  get canPing(): boolean {
    return this.stream !== undefined && !this.closed;
  }

  /**
   * When the peer last showed it is alive, as of `now`: bytes read from it; reads paused by
   * flood control (its silence is ours); or output it took since the last look while the
   * stream was holding some back (its side is acknowledging, it is only slow to answer).
   */
  signOfLife(now: number): number {
    if (this.paused) this.lastHeard = now;
    const waiting = this.conn.stream.writableLength;
    const passedOn = this.written - waiting;
    if (this.heldBack && passedOn > this.passedOn) this.lastHeard = now;
    this.passedOn = passedOn;
    this.heldBack = waiting > 0;
    return this.lastHeard;
  }

  /** A keepalive ping inside the channel; the peer answers `pong`. */
  ping(now: number): void {
    this.lastPing = now;
    this.send({ type: 'ping', t: Math.round(now) });
  }

  /** Sends a plaintext handshake frame. */
  sendPlain(frame: object): void {
    if (this.closed) return;
    this.conn.stream.write(JSON.stringify(frame) + '\n');
  }

  /**
   * From now on both directions are v3 binary records: direct ones on the member's channel,
   * and, from the daemon, broadcast ones tagged with `tagKey`. Keys are copied.
   */
  startChannel(openKey: Buffer, sealKey: Buffer, tagKey: Buffer): void {
    this.opener = new ChannelOpener(openKey);
    this.stream = new MemberStream(new ChannelSealer(sealKey), tagKey);
    this.authenticated = true;
    this.decoder.startRecords(this.options.maxRecordBytes);
  }

  /** Whether the member takes broadcast records (v3); an original client takes their frames as lines. */
  get takesBroadcast(): boolean {
    return this.stream !== undefined;
  }

  /** An original (v1) client is authenticated: frames stay plaintext JSON lines both ways. */
  startPlain(): void {
    this.authenticated = true;
    this.decoder.setLimit(this.options.maxRecordBytes);
  }

  /** Queues a serialised frame for the member's own channel (sealed with the turn's others). */
  sendSerialized(json: string): void {
    if (this.closed || !this.authenticated) return;
    this.outbox.push(json);
    this.directBytes += json.length + 1;
    this.queued();
  }

  /** Queues a reference to a room's shared batch (the room's fan-out path). */
  sendBatch(batch: SharedBatch): void {
    if (this.closed || !this.authenticated || this.held.has(batch)) return;
    batch.hold(this.stream === undefined);
    this.held.add(batch);
    this.heldBytes += batch.counted;
    this.outbox.push(batch);
    this.queued();
  }

  holdsLast(batch: SharedBatch): boolean {
    return !this.closed && this.outbox[this.outbox.length - 1] === batch;
  }

  grew(bytes: number): void {
    this.heldBytes += bytes;
    this.queued();
  }

  private queued(): void {
    // Only noted here: a queue filled by what others sent in this very turn is no fault of the
    // member's; the daemon drops those that stay above the bound (see daemon.ts).
    if (!this.closing && this.queuedBytes > this.options.maxQueueBytes) this.handler?.onQueueOver?.();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Bytes waiting for the peer: its own frames not yet sealed, the shared batches it has not
   * taken, and what else the socket has not written.
   */
  get queuedBytes(): number {
    const socket = this.conn.stream.writableLength - this.socketShared;
    return this.directBytes + this.heldBytes + Math.max(socket, 0);
  }

  /** `queuedBytes` without the shared batches (those count once for the daemon: see fanout.ts). */
  get ownQueuedBytes(): number {
    return this.queuedBytes - this.heldBytes;
  }

  /** Queues one frame object. */
  send(frame: object): void {
    this.sendSerialized(JSON.stringify(frame));
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || !this.authenticated || this.outbox.length === 0) return;
    const items = this.outbox;
    this.outbox = [];
    this.directBytes = 0;
    const out = this.conn.stream;
    const stream = this.stream;
    if (!stream) {
      // An original client: plaintext lines, the shared frames copied into them.
      const lines: string[] = [];
      for (const item of items) {
        if (typeof item === 'string') lines.push(item);
        else {
          lines.push(item.text());
          this.taken(item, 0);
        }
      }
      const text = `${lines.join('\n')}\n`;
      this.written += Buffer.byteLength(text);
      out.write(text);
      return;
    }
    out.cork();
    let direct: string[] = [];
    const writeDirect = (): void => {
      const record = stream.direct(direct.length === 1 ? direct[0]! : direct.join('\n'));
      direct = [];
      this.written += record.length;
      out.write(record);
    };
    for (const item of items) {
      if (typeof item === 'string') {
        direct.push(item);
        continue;
      }
      if (direct.length > 0) writeDirect();
      const sealed = item.sealed();
      const head = stream.broadcastHead(sealed, item.digest());
      const size = head.length + sealed.length;
      this.socketShared += size;
      this.written += size;
      out.write(head);
      out.write(sealed, () => this.taken(item, size));
    }
    if (direct.length > 0) writeDirect();
    out.uncork();
  }

  /** The member took a shared batch (the socket passed it on), or never will: its reference goes. */
  private taken(batch: SharedBatch, socketBytes: number): void {
    if (!this.held.delete(batch)) return;
    this.heldBytes -= batch.counted;
    this.socketShared -= socketBytes;
    batch.release();
  }

  /**
   * Ends the link. With an error code, the peer is told first (plain before the channel,
   * sealed after). Pending output is flushed before the stream ends.
   */
  close(reason: CloseReason, options: { now?: boolean } = {}): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    const isError = reason in ErrorText;
    if (reason === 'slow_reader') {
      // What was not sealed yet is dropped; the farewell follows what the socket holds, so a
      // peer that reads again learns why before the stream ends (if it reads within the grace
      // below). Dropped to free memory at once (`now`): nothing more is written.
      this.dropQueue();
      if (!options.now) {
        this.send({ type: 'error', code: reason, message: ErrorText.slow_reader });
        this.flush();
      }
    } else if (this.stream && (isError || reason === 'shutdown')) {
      if (reason === 'shutdown') this.send({ type: 'shutdown' });
      else this.send({ type: 'error', code: reason, message: ErrorText[reason as ErrorCode] });
      this.flush();
    } else {
      this.flush();
      // Before the channel (and for original clients, who never get one): the plain form.
      if (isError) {
        this.conn.stream.write(JSON.stringify(handshakeErrorFrame(reason as ErrorCode)) + '\n');
      }
    }
    this.closed = true;
    clearTimeout(this.resumeTimer);
    this.heldUnit = undefined;
    this.frames = [];
    this.dropQueue();
    this.opener?.destroy();
    this.stream?.destroy();
    const stream = this.conn.stream;
    if (reason === 'peer_closed' || options.now) stream.destroy();
    else {
      stream.end();
      // A peer that never reads must not keep the socket (and its buffers) alive.
      setTimeout(() => stream.destroy(), 2000).unref();
    }
    this.handler?.onClose(reason);
  }

  /**
   * Forgets the queue: its own frames, and its references to shared batches (those in the
   * socket too: the link is closing and frees them now).
   */
  private dropQueue(): void {
    this.outbox = [];
    this.directBytes = 0;
    for (const batch of this.held) batch.release();
    this.held.clear();
    this.heldBytes = 0;
    this.socketShared = 0;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastHeard = performance.now();
    try {
      this.decoder.push(chunk);
    } catch {
      this.close('too_large');
      return;
    }
    // Reading waits for tokens: the timer continues.
    if (this.resumeTimer === undefined) this.pump();
  }

  /**
   * Handles what was read, as far as the tokens allow: each frame costs a frame token before
   * it is handled (a record carrying many frames pays for each), each record its bytes from
   * the member's and the room's buckets. Short of tokens, reading pauses until they are due.
   */
  private pump(): void {
    this.resumeTimer = undefined;
    while (!this.closed) {
      if (this.frameIndex < this.frames.length) {
        if (this.authenticated) {
          if (!this.frameBucket.ready(1)) {
            this.pauseFor(this.frameBucket.waitMs(1));
            return;
          }
          this.frameBucket.charge(1);
        }
        const frame = this.frames[this.frameIndex++]!;
        if (this.frameIndex === this.frames.length) {
          this.frames = [];
          this.frameIndex = 0;
        }
        this.handleFrame(frame);
        continue;
      }
      let unit: string | Buffer | undefined;
      try {
        unit = this.heldUnit ?? this.decoder.next();
      } catch {
        this.close('too_large');
        return;
      }
      if (unit === undefined) break;
      if (this.authenticated) {
        const size = unit.length;
        const room = this.roomInflow;
        if (!this.byteBucket.ready(size) || (room !== undefined && !room.ready(size))) {
          this.heldUnit = unit;
          this.pauseFor(Math.max(this.byteBucket.waitMs(size), room?.waitMs(size) ?? 0));
          return;
        }
        this.byteBucket.charge(size);
        room?.charge(size);
      }
      this.heldUnit = undefined;
      this.openUnit(unit);
    }
    if (this.paused && !this.closed) {
      this.paused = false;
      this.conn.stream.resume();
    }
  }

  /** Flood control: stop reading, continue when the tokens are due. */
  private pauseFor(ms: number): void {
    if (!this.paused) {
      this.paused = true;
      this.conn.stream.pause();
    }
    this.resumeTimer = setTimeout(() => this.pump(), Math.max(1, ms));
  }

  /** A unit read: a plaintext line before the channel (and for v1), else a sealed record. */
  private openUnit(unit: string | Buffer): void {
    if (typeof unit === 'string') {
      this.frames.push(unit);
      return;
    }
    let plaintext: string;
    try {
      if (!this.opener) throw new ProtocolError('bad_request');
      plaintext = openDirect(this.opener, unit).toString('utf8');
    } catch {
      this.close('bad_request');
      return;
    }
    // A record may carry several frames separated by newlines; each is charged on its own.
    for (const part of plaintext.split('\n')) this.frames.push(part);
  }

  private handleFrame(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = parseObject(text);
    } catch (err) {
      this.close(err instanceof ProtocolError ? err.code : 'bad_request');
      return;
    }
    this.handler!.onFrame(frame);
  }
}
