/**
 * A room's ordered log on JetStream (the `RoomLog` of lib/rooms/seam.ts). The stream orders
 * batches (lib/cluster/room-stream.ts); this numbers the events inside them without a hole:
 * a batch names its first event's number and is appended only if the stream's last sequence
 * is the one this daemon has applied, so on a conflict the daemon reads what others appended,
 * drops the ids they already logged, renumbers and tries again. That makes de-duplication
 * exact (no id the log holds enters it twice) and lets every daemon apply every batch in one
 * order. Appends wait for no timer: what arrives while a batch is in flight goes into the next
 * one, so a busy room costs one append per round trip, not one per message.
 */
import { hash, randomBytes } from 'node:crypto';
import type {
  Appended,
  LoggedEvent,
  LogPage,
  Missing,
  PageLimits,
  RoomEvent,
  RoomLog,
} from '../rooms/seam.js';
import { IdWindow } from './id-window.js';
import { type ClusterKeys, keyedHex } from './keys.js';
import { type BatchEvent, batchOverhead, encodeBatchEvent, type LogBatch } from './log-batch.js';
import { LogWipes } from './log-wipes.js';
import {
  AppendConflict,
  type Follower,
  MAX_BATCH_BYTES,
  type RoomStream,
  type StreamState,
} from './room-stream.js';

/**
 * Events per batch at most. Under load a batch carries what arrived during the previous append's
 * round trip. Larger ones cost fewer appends per event but more to open and apply on every
 * daemon (a batch of 400-byte events past ~300 is a large-object allocation for V8): at 512
 * and 1,024 the cluster's CPU per message was no lower (docs/benchmarks.md, "Batch size").
 */
const MAX_BATCH_EVENTS = 256;
/** Random bytes of a batch's token (hex in the batch). */
const TOKEN_BYTES = 8;
/** What a wipe's encoding counts against a batch's bytes (made when its batch is; always smaller). */
const WIPE_BYTES = 512;
/** What the events' encodings may add up to in a sealed batch of `maxBytes` at most. */
const bodyBudget = (maxBytes: number): number => maxBytes - batchOverhead(MAX_BATCH_EVENTS, TOKEN_BYTES * 2);
/** How long one attempt to append waits for JetStream's acknowledgement. */
const ACK_TIMEOUT_MS = 2000;
/** Attempts before an append is rejected (the caller may retry with the same id). */
const MAX_ATTEMPTS = 8;
/** Recently applied batches whose place is remembered (a resume close behind needs no search). */
const RECENT_BATCHES = 1024;
/** Appends waiting for the log at most (NATS gone for long): beyond it an append fails at once. */
export const MAX_BACKLOG = 10_000;

interface Pending {
  id: string;
  event: RoomEvent;
  /** A message's encoding in the batch (made once, kept across retries), and its UTF-8 bytes. */
  encoded: string | undefined;
  bytes: number;
  /** Tokens of the batches it was sent in (found in one of them: ours, not a duplicate). */
  tokens: string[];
  resolve(appended: Appended): void;
  reject(err: Error): void;
}

interface Placed {
  /** Stream sequence. */
  s: number;
  first: number;
  count: number;
}

export interface JetStreamLogOptions {
  keys: ClusterKeys;
  /** The keyed id of the room (lib/cluster/keys.ts roomLogNames). */
  roomId: string;
  /** De-duplication ids kept at most (besides those of the events the log holds). */
  maxIds: number;
  /**
   * Bytes of a sealed batch at most (MAX_BATCH_BYTES when absent). A stream keeps no message
   * larger than its byte limit (it is stored, then dropped at once), so a small one needs
   * smaller batches; a batch holds one event whatever its size.
   */
  maxBatchBytes?: number;
  /** Told of batches that do not open or do not follow (forged or replayed on the server). */
  onRejected?(): void;
}

export class JetStreamLog implements RoomLog {
  private currentEpoch = '';
  /** Last stream sequence applied. */
  private applied = 0;
  private last = 0;
  /** De-duplication id → sequence number, the newest `maxIds` of them. */
  private readonly ids: IdWindow;
  /** Bytes of event encodings per batch at most. */
  private readonly maxBody: number;
  private readonly waiting = new Map<string, Pending>();
  private queue: Pending[] = [];
  private flushing = false;
  private readonly wipes = new LogWipes();
  private readonly recent: Placed[] = [];
  /** The batch `getBatch` read last. */
  private lastRead: { s: number; epoch: string; batch: LogBatch } | undefined;
  private readonly listeners = new Set<(event: LoggedEvent) => void>();
  private readonly epochListeners = new Set<(epoch: string) => void>();
  private follower: Follower | undefined;
  private closed = false;
  /** Ids of events appended without one: a random prefix and a counter (no HMAC, no entropy per event). */
  private readonly idPrefix = randomBytes(8).toString('hex');
  private idCounter = 0;

  private constructor(
    private readonly stream: RoomStream,
    private readonly options: JetStreamLogOptions,
  ) {
    this.ids = new IdWindow(options.maxIds);
    this.maxBody = bodyBudget(Math.min(MAX_BATCH_BYTES, options.maxBatchBytes ?? MAX_BATCH_BYTES));
  }

  /** Makes (or finds) the stream, learns where it stands and starts following it. */
  static async open(stream: RoomStream, options: JetStreamLogOptions): Promise<JetStreamLog> {
    const log = new JetStreamLog(stream, options);
    await log.start(await stream.ensure());
    return log;
  }

  get epoch(): string {
    return this.currentEpoch;
  }

  get lastSeq(): number {
    return this.last;
  }

  append(event: RoomEvent & { kind: 'message' }, dedupeId?: string): Promise<Appended> {
    // A fresh id cannot be a duplicate: no look-up.
    if (dedupeId === undefined) return this.enqueue(this.uniqueId(), event, MAX_BACKLOG);
    // The id travels inside the sealed batch only, so a plain hash is enough (one-shot: a
    // keyed hash object per message cost more than the rest of the append).
    const id = hash('sha256', `${this.options.roomId}\0${dedupeId}`, 'hex').slice(0, 32);
    const seq = this.ids.get(id);
    if (seq !== undefined) return Promise.resolve({ seq, duplicate: true });
    const earlier = this.waiting.get(id);
    if (earlier) return new Promise((resolve, reject) => this.enqueueAfter(earlier, resolve, reject));
    return this.enqueue(id, event, MAX_BACKLOG);
  }

  async wipe(by: string): Promise<LoggedEvent & { kind: 'wipe' }> {
    const appended = await this.enqueue(this.uniqueId(), { kind: 'wipe', by, wiped: 0 });
    const wipe = this.wipes.at(appended.seq);
    const placed = this.recent.find((p) => p.first === appended.seq)?.s;
    const state = placed === undefined ? await this.stream.state() : undefined;
    const at = placed ?? (state ? await this.locate(appended.seq, state.first, state.last) : undefined);
    if (at !== undefined) await this.stream.purgeBefore(at);
    return { kind: 'wipe', by, wiped: wipe?.wiped ?? 0, seq: appended.seq };
  }

  async read(afterSeq: number, limits: PageLimits): Promise<LogPage> {
    const state = await this.sync();
    const empty = (firstSeq: number, missing: Missing): LogPage => ({
      epoch: this.currentEpoch,
      events: [],
      firstSeq,
      lastSeq: this.last,
      ...missing,
    });
    // An empty stream: first 0 when nothing was ever stored, last + 1 after a purge.
    if (state.last === 0 || state.last < state.first) return empty(this.last + 1, { lost: 0, wiped: 0 });
    const head = await this.batchAtOrAfter(state.first, state.last);
    if (!head) return empty(this.last + 1, { lost: 0, wiped: 0 });
    this.wipes.learn(head.batch);
    const firstSeq = head.batch.first;
    const target = Math.max(afterSeq + 1, 1);
    const missing = target < firstSeq ? this.wipes.missing(target, firstSeq - 1) : { lost: 0, wiped: 0 };
    const start = Math.max(target, firstSeq);
    if (start > this.last) return empty(firstSeq, missing);
    const events: LoggedEvent[] = [];
    let chars = 0;
    let s = start === firstSeq ? head.s : await this.locate(start, head.s, state.last);
    for (; s <= state.last; s++) {
      const batch = await this.getBatch(s);
      if (!batch) continue;
      this.wipes.learn(batch);
      for (let i = 0; i < batch.events.length; i++) {
        const seq = batch.first + i;
        if (seq < start) continue;
        const event = batch.events[i]!.event;
        const size = event.kind === 'message' ? event.data.text.length : 0;
        if (events.length > 0 && (events.length >= limits.maxEvents || chars + size > limits.maxChars)) {
          return { epoch: this.currentEpoch, events, firstSeq, lastSeq: this.last, ...missing };
        }
        events.push({ ...event, seq });
        chars += size;
      }
    }
    return { epoch: this.currentEpoch, events, firstSeq, lastSeq: this.last, ...missing };
  }

  watch(listener: (event: LoggedEvent) => void, onEpoch?: (epoch: string) => void): () => void {
    this.listeners.add(listener);
    if (onEpoch) this.epochListeners.add(onEpoch);
    return () => {
      this.listeners.delete(listener);
      if (onEpoch) this.epochListeners.delete(onEpoch);
    };
  }

  /**
   * Catches up with the stream (after a reconnection, a conflict, or before a read) and
   * notices a stream that started over (its epoch changed, or it is gone and made anew).
   */
  async sync(): Promise<StreamState> {
    const state = await this.stream.ensure();
    if (state.epoch !== this.currentEpoch) {
      await this.start(state);
      return state;
    }
    // One request per batch: a batch that cannot be had now (a leader being elected) stops the
    // catching up rather than being skipped, so watchers never miss one.
    for (let s = Math.max(this.applied + 1, state.first); s <= state.last; s++) {
      const batch = await this.getBatch(s);
      if (batch) this.apply(s, batch);
    }
    return state;
  }

  /** Stops following the stream; pending appends are rejected. */
  close(): void {
    this.closed = true;
    this.follower?.stop();
    this.follower = undefined;
    // Every append not yet logged, queued or in flight, fails (the caller may retry elsewhere).
    for (const p of this.waiting.values()) p.reject(new Error('the room log is closed'));
    this.queue = [];
    this.waiting.clear();
  }

  /** Adopts a stream state: its epoch, its last batch, and a follower from there on. */
  private async start(state: StreamState): Promise<void> {
    const restarted = this.currentEpoch !== '' && state.epoch !== this.currentEpoch;
    this.currentEpoch = state.epoch;
    this.applied = 0;
    this.last = 0;
    this.ids.clear();
    this.wipes.clear();
    this.recent.length = 0;
    // Read what the log holds without telling watchers: the ids of every event it holds (so a
    // resend to a daemon that opened the room later is still a duplicate), its wipes, its end.
    if (state.last >= state.first && state.last > 0) await this.catchUp(state.first, state, false);
    this.applied = Math.max(this.applied, state.last);
    if (restarted) for (const listener of this.epochListeners) listener(state.epoch);
    // Appends queued for the old epoch go into the new one.
    for (const p of this.waiting.values()) p.tokens = [];
    this.follow();
  }

  /** Applies the batches from stream sequence `from` to `state.last` in one fetch (watchers told or not). */
  private async catchUp(from: number, state: StreamState, tell: boolean): Promise<void> {
    const messages = await this.stream.fetch(from, state.last - from + 1);
    for await (const m of messages) {
      const batch = this.stream.open(m.data, state.epoch);
      if (batch) this.apply(m.seq, batch, tell);
      if (m.seq >= state.last) break;
    }
    messages.stop();
  }

  /** Applies every batch the server delivers, for as long as the log is open. */
  private follow(): void {
    this.follower?.stop();
    this.follower = undefined;
    if (this.closed) return;
    const epoch = this.currentEpoch;
    void this.stream
      .follow(this.applied + 1)
      .then(async (messages) => {
        if (this.closed || epoch !== this.currentEpoch) return messages.stop();
        this.follower = messages;
        for await (const m of messages) {
          if (epoch !== this.currentEpoch) break;
          if (m.seq <= this.applied) continue; // our own batch, applied from its acknowledgement
          const batch = this.stream.open(m.data, epoch);
          if (batch) this.apply(m.seq, batch);
          else if (m.seq > this.applied) {
            this.applied = m.seq;
            this.options.onRejected?.();
          }
        }
      })
      .catch(() => undefined)
      .finally(() => {
        // The follower ended without a close (stream gone, server lost): catch up and follow again.
        if (!this.closed && epoch === this.currentEpoch) {
          setTimeout(() => {
            if (this.closed) return;
            this.sync()
              .then(() => {
                if (epoch === this.currentEpoch) this.follow();
              })
              .catch(() => this.follow());
          }, 250).unref();
        }
      });
  }

  /** Takes in a batch at stream sequence `s` (once, in order) and tells the watchers. */
  private apply(s: number, batch: LogBatch, tell = true): void {
    if (s <= this.applied) return;
    const contiguous = s === this.applied + 1;
    // A batch that does not follow the numbering (replayed or forged by whoever can publish on
    // the server; a real appender always names last + 1) is skipped. After a hole in the stream
    // (retention dropped batches before this daemon read them) the numbering jumps.
    if (batch.first <= this.last || (contiguous && this.last > 0 && batch.first !== this.last + 1)) {
      this.applied = s;
      this.options.onRejected?.();
      return;
    }
    this.applied = s;
    this.last = batch.first + batch.events.length - 1;
    this.recent.push({ s, first: batch.first, count: batch.events.length });
    if (this.recent.length > RECENT_BATCHES) this.recent.shift();
    this.wipes.learn(batch);
    const { events, first } = batch;
    // Events still queued here and logged by another daemon meanwhile are skipped when taken.
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const seq = first + i;
      this.ids.set(e.id, seq);
      if (this.waiting.size > 0) {
        const pending = this.waiting.get(e.id);
        if (pending) {
          this.waiting.delete(e.id);
          pending.resolve({ seq, duplicate: !pending.tokens.includes(batch.token) });
        }
      }
      if (!tell || this.listeners.size === 0) continue;
      const logged: LoggedEvent =
        e.event.kind === 'message'
          ? { kind: 'message', data: e.event.data, seq }
          : { kind: 'wipe', by: e.event.by, wiped: e.event.wiped, seq };
      for (const listener of this.listeners) listener(logged);
    }
  }

  /**
   * The batch at stream sequence `s` (read from the server; the last one read is kept, since
   * a page of a read that ends inside a batch is followed by one that starts there). A stored
   * batch never changes within an epoch; callers ask only for sequences the stream holds.
   */
  private async getBatch(s: number): Promise<LogBatch | undefined> {
    const kept = this.lastRead;
    if (kept && kept.s === s && kept.epoch === this.currentEpoch) return kept.batch;
    const epoch = this.currentEpoch;
    const batch = await this.stream.get(s, epoch);
    if (batch) this.lastRead = { s, epoch, batch };
    return batch;
  }

  /** The first batch stored at or after stream sequence `from`. */
  private async batchAtOrAfter(
    from: number,
    last: number,
  ): Promise<{ s: number; batch: LogBatch } | undefined> {
    for (let s = from; s <= last; s++) {
      const batch = await this.getBatch(s);
      if (batch) return { s, batch };
    }
    return undefined;
  }

  /** The stream sequence of the batch holding event `seq` (between `lo` and `hi`): recent memory, else a binary search. */
  private async locate(seq: number, lo: number, hi: number): Promise<number> {
    const known = this.recent.find((p) => seq >= p.first && seq < p.first + p.count);
    if (known) return known.s;
    let found = lo;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const batch = await this.getBatch(mid);
      if (!batch) {
        lo = mid + 1;
        continue;
      }
      if (batch.first <= seq) {
        found = mid;
        if (seq < batch.first + batch.events.length) return mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private uniqueId(): string {
    return this.idPrefix + (++this.idCounter).toString(16).padStart(16, '0');
  }

  /** Queues an event for the next batch; refused at once when `bound` appends already wait. */
  private enqueue(id: string, event: RoomEvent, bound = Number.POSITIVE_INFINITY): Promise<Appended> {
    if (this.waiting.size >= bound)
      return Promise.reject(new Error('the room log is not answering (backlog full)'));
    return new Promise((resolve, reject) => {
      const encoded = event.kind === 'message' ? encodeBatchEvent({ id, event }) : undefined;
      const bytes = encoded === undefined ? WIPE_BYTES : Buffer.byteLength(encoded);
      const pending: Pending = { id, event, encoded, bytes, tokens: [], resolve, reject };
      this.waiting.set(id, pending);
      this.queue.push(pending);
      this.kick();
    });
  }

  private enqueueAfter(earlier: Pending, resolve: (a: Appended) => void, reject: (e: Error) => void): void {
    const before = { resolve: earlier.resolve, reject: earlier.reject };
    earlier.resolve = (a) => {
      before.resolve(a);
      resolve({ seq: a.seq, duplicate: true });
    };
    earlier.reject = (e) => {
      before.reject(e);
      reject(e);
    };
  }

  private kick(): void {
    if (this.flushing || this.closed) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushAll()
        .catch(() => undefined)
        .finally(() => {
          this.flushing = false;
          if (this.queue.length > 0) this.kick();
        });
    });
  }

  /** Appends the queue, one batch at a time, until it is empty. */
  private async flushAll(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.takeBatch();
      let attempts = 0;
      for (;;) {
        const live = batch.filter((p) => this.waiting.get(p.id) === p);
        if (live.length === 0) break;
        try {
          await this.appendBatch(live);
          break;
        } catch (err) {
          if (err instanceof AppendConflict) {
            await this.sync().catch(() => undefined);
            continue;
          }
          if (++attempts >= MAX_ATTEMPTS) {
            for (const p of live) {
              this.waiting.delete(p.id);
              p.reject(new Error('the room log did not acknowledge the event'));
            }
            break;
          }
          await this.sync().catch(() => undefined);
        }
      }
    }
  }

  /**
   * Takes the next batch off the queue: a wipe alone (it must start its batch), else messages
   * up to the limits. Entries settled meanwhile (logged by another daemon, or rejected) are
   * dropped here rather than filtered out after every batch applied.
   */
  private takeBatch(): Pending[] {
    const taken: Pending[] = [];
    let bytes = 0;
    let n = 0;
    for (; n < this.queue.length; n++) {
      const p = this.queue[n]!;
      if (this.waiting.get(p.id) !== p) continue;
      if (p.event.kind === 'wipe') {
        if (taken.length === 0) {
          taken.push(p);
          n++;
        }
        break;
      }
      if (taken.length >= MAX_BATCH_EVENTS) break;
      bytes += p.bytes;
      if (taken.length > 0 && bytes > this.maxBody) break;
      taken.push(p);
    }
    this.queue.splice(0, n);
    return taken;
  }

  private async appendBatch(items: Pending[]): Promise<void> {
    const first = this.last + 1;
    // A wipe removes everything the log still holds before it: from its first number on.
    const from = items[0]?.event.kind === 'wipe' ? await this.firstHeld(first) : first;
    const events: BatchEvent[] = items.map((p) =>
      p.event.kind === 'wipe'
        ? { id: p.id, event: { ...p.event, wiped: this.wipes.messagesIn(from, first - 1) }, from }
        : { id: p.id, event: p.event, encoded: p.encoded },
    );
    const batch: LogBatch = { first, events, token: randomBytes(TOKEN_BYTES).toString('hex') };
    const msgId = keyedHex(this.options.keys, 'batch id', [
      this.currentEpoch,
      String(first),
      ...items.map((p) => p.id),
    ]);
    for (const p of items) p.tokens.push(batch.token);
    const ack = await this.stream.append(batch, this.currentEpoch, msgId, this.applied, ACK_TIMEOUT_MS);
    if (ack.seq <= this.applied) return; // the follower applied it first
    if (!ack.duplicate && ack.seq === this.applied + 1) this.apply(ack.seq, batch);
    else await this.sync();
  }

  /** The first sequence number the log holds (`next` when it holds none). */
  private async firstHeld(next: number): Promise<number> {
    const state = await this.stream.state();
    if (!state || state.last < state.first) return next;
    const head = await this.batchAtOrAfter(state.first, state.last);
    return head ? head.batch.first : next;
  }
}
