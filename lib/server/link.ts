/**
 * One client connection as the daemon sees it: line decoding with limits, the switch from
 * the plaintext handshake to the sealed channel, batched sealing of outgoing frames (one
 * record per member per tick), the size of what waits for the peer (the daemon judges slow
 * readers), and flood control by pausing reads
 * (per member in frames and bytes, per room in bytes; every frame of a record is charged
 * before it is handled). It also keeps the signs of life the keepalive sweep judges.
 */
import { ChannelOpener, ChannelSealer } from '../crypto/channel.js';
import { LineDecoder, parseObject } from '../protocol/codec.js';
import { type ErrorCode, ErrorText, handshakeErrorFrame, ProtocolError } from '../protocol/errors.js';
import type { Connection } from '../transport/transport.js';
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

/**
 * The plaintext of the last batch sealed in this tick. A room broadcast reaches every member
 * in the same order, so the next member's batch is usually the same frames: they are then
 * joined and UTF-8 encoded once per tick instead of once per member (each member still gets
 * its own sealed record). Forgotten at the next tick.
 */
let lastBatch: { frames: string[]; bytes: Buffer } | undefined;

function batchPlaintext(frames: string[]): Buffer {
  const last = lastBatch;
  if (last !== undefined && last.frames.length === frames.length) {
    let same = true;
    for (let i = 0; i < frames.length && same; i++) same = last.frames[i] === frames[i];
    if (same) return last.bytes;
  }
  const bytes = Buffer.from(frames.length === 1 ? frames[0]! : frames.join('\n'), 'utf8');
  if (last === undefined) {
    setImmediate(() => {
      lastBatch = undefined;
    });
  }
  lastBatch = { frames, bytes };
  return bytes;
}

export class Link {
  userId = '';
  /** The room's shared inflow bucket (bytes), once the member belongs to a room. */
  roomInflow: TokenBucket | undefined;
  private readonly decoder: LineDecoder;
  private opener: ChannelOpener | undefined;
  private sealer: ChannelSealer | undefined;
  /** Authenticated: by a channel (v2) or in plaintext (an original v1 client). */
  private authenticated = false;
  private outbox: string[] = [];
  private outboxBytes = 0;
  private flushScheduled = false;
  private closed = false;
  /** Set while close() runs, so that queueing its farewell frame cannot re-enter close(). */
  private closing = false;
  /** Lines decoded but not yet handled (flood control), from `lineIndex` on. */
  private backlog: string[] = [];
  private lineIndex = 0;
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
    this.decoder = new LineDecoder(options.maxHandshakeLineBytes);
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
    return this.sealer !== undefined && !this.closed;
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

  /** From now on every line in both directions is a sealed record. Keys are copied by the channel. */
  startChannel(openKey: Buffer, sealKey: Buffer): void {
    this.opener = new ChannelOpener(openKey);
    this.sealer = new ChannelSealer(sealKey);
    this.authenticated = true;
    this.decoder.setLimit(this.options.maxRecordBytes);
  }

  /** An original (v1) client is authenticated: frames stay plaintext JSON lines both ways. */
  startPlain(): void {
    this.authenticated = true;
    this.decoder.setLimit(this.options.maxRecordBytes);
  }

  /** Queues a serialised frame for the next sealed record (the room's fan-out path). */
  sendSerialized(json: string): void {
    if (this.closed || !this.authenticated) return;
    this.outbox.push(json);
    this.outboxBytes += json.length + 1;
    // Only noted here: a queue filled by what others sent in this very turn is no fault of
    // the member's; the daemon drops those that stay above the bound (see daemon.ts).
    if (!this.closing && this.outboxBytes + this.conn.stream.writableLength > this.options.maxQueueBytes) {
      this.handler?.onQueueOver?.();
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Bytes waiting for the peer: frames not yet sealed plus what the socket has not written. */
  get queuedBytes(): number {
    return this.outboxBytes + this.conn.stream.writableLength;
  }

  /** Queues one frame object. */
  send(frame: object): void {
    this.sendSerialized(JSON.stringify(frame));
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || !this.authenticated || this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    if (!this.sealer) {
      const text = (batch.length === 1 ? batch[0]! : batch.join('\n')) + '\n';
      this.written += Buffer.byteLength(text);
      this.conn.stream.write(text);
      return;
    }
    // A record line is base64, i.e. ASCII: latin1 writes the same bytes without a UTF-8 pass.
    const record = `${this.sealer.seal(batchPlaintext(batch))}\n`;
    this.written += record.length;
    this.conn.stream.write(record, 'latin1');
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
      this.outbox = [];
      this.outboxBytes = 0;
      if (!options.now) {
        this.send({ type: 'error', code: reason, message: ErrorText.slow_reader });
        this.flush();
      }
    } else if (this.sealer && (isError || reason === 'shutdown')) {
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
    this.backlog = [];
    this.frames = [];
    this.outbox = [];
    this.opener?.destroy();
    this.sealer?.destroy();
    const stream = this.conn.stream;
    if (reason === 'peer_closed' || options.now) stream.destroy();
    else {
      stream.end();
      // A peer that never reads must not keep the socket (and its buffers) alive.
      setTimeout(() => stream.destroy(), 2000).unref();
    }
    this.handler?.onClose(reason);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastHeard = performance.now();
    let lines: string[];
    try {
      lines = this.decoder.push(chunk);
    } catch {
      this.close('too_large');
      return;
    }
    if (lines.length === 0) return;
    if (this.lineIndex < this.backlog.length) {
      for (const line of lines) this.backlog.push(line);
      return;
    }
    this.backlog = lines;
    this.lineIndex = 0;
    this.pump();
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
      if (this.lineIndex >= this.backlog.length) break;
      const line = this.backlog[this.lineIndex]!;
      if (this.authenticated) {
        const room = this.roomInflow;
        if (!this.byteBucket.ready(line.length) || (room !== undefined && !room.ready(line.length))) {
          this.pauseFor(Math.max(this.byteBucket.waitMs(line.length), room?.waitMs(line.length) ?? 0));
          return;
        }
        this.byteBucket.charge(line.length);
        room?.charge(line.length);
      }
      this.lineIndex++;
      this.openLine(line);
    }
    this.backlog = [];
    this.lineIndex = 0;
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

  /** A line read: a plaintext frame before the channel (and for v1), else a sealed record. */
  private openLine(line: string): void {
    if (!this.opener) {
      this.frames.push(line);
      return;
    }
    let plaintext: string;
    try {
      plaintext = this.opener.open(line).toString('utf8');
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
