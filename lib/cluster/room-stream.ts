/**
 * One room's JetStream stream, and nothing else: make it (memory storage, the room's
 * retention by messages and bytes, replicas), tell its epoch and bounds, append a sealed
 * batch only if the stream's last sequence is still the one the appender knows (compare-and-
 * set, so two daemons can never number the same events twice), get a batch by its stream
 * sequence, follow new batches (a follower that ends itself when its server falls silent, so
 * the log follows again from the last batch it applied), purge what lies before a wipe,
 * delete it. The stream's sequence numbers count batches; lib/cluster/jetstream-log.ts
 * numbers the events inside.
 */
import { createHash } from 'node:crypto';
import {
  type ConsumerMessages,
  type ConsumerNotification,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { type LogBatch, openBatch, sealBatch } from './log-batch.js';

/** JetStream's error code for a failed `Nats-Expected-Last-Sequence`. */
const WRONG_LAST_SEQUENCE = 10071;
/** JetStream's de-duplication window for `Nats-Msg-Id` (a retried batch within it is dropped). */
const DUPLICATE_WINDOW_NS = 120_000_000_000;
/** Largest batch stored (NATS's default max_payload is 1 MiB; headers and seal fit in the rest). */
export const MAX_BATCH_BYTES = 1_000_000;
/**
 * The idle heartbeat a follower asks of the server. A follower that hears neither a batch nor
 * a heartbeat for FOLLOW_SILENT_BEATS of them ends, and its log follows again from the last
 * batch it applied: so a consumer lost with its server (an R1 consumer on the stream leader
 * killed), or left behind by a reconnection to another server, costs seconds, not the 30 s and
 * more the client's own recovery takes (its heartbeat watch pauses while disconnected and its
 * checks back off to the pull's expiry). One tiny message per second per followed room.
 */
const FOLLOW_HEARTBEAT_MS = 1000;
/**
 * Bytes of batches a follower asks the server for ahead of what it has applied: what a room's
 * follower may hold in memory when its daemon falls behind (batches reach MAX_BATCH_BYTES).
 */
const FOLLOW_MAX_BYTES = 4 * MAX_BATCH_BYTES;
const FOLLOW_SILENT_BEATS = 2;
/** What the client reports when the consumer is gone or unreachable: follow again at once. */
const FOLLOWER_GONE: ReadonlySet<ConsumerNotification['type']> = new Set([
  'heartbeats_missed',
  'consumer_deleted',
  'consumer_not_found',
  'stream_not_found',
  'no_responders',
]);

/** The batches a stream delivers, in order, until it is stopped or falls silent. */
export interface Follower extends AsyncIterable<JsMsg> {
  stop(): void;
}

export interface StreamLimits {
  /** Stream messages (batches) kept. */
  maxMsgs: number;
  /** Stored bytes kept. */
  maxBytes: number;
  /** Copies in a NATS cluster (1 on a single server). */
  replicas: number;
}

/** Where a stream stands, as its leader says. */
export interface StreamState {
  epoch: string;
  /** First stream sequence still held (last + 1 when empty). */
  first: number;
  /** Last stream sequence appended (0: none). */
  last: number;
}

/** Thrown by `append` when the stream's last sequence was not the expected one. */
export class AppendConflict extends Error {
  constructor() {
    super('the room log moved on');
  }
}

/** The epoch of a stream: a hash of its name and the creation time its leader stamped. */
function epochOf(stream: string, created: string): string {
  return createHash('sha256').update(`${stream}\0${created}`).digest().subarray(0, 8).toString('hex');
}

export class RoomStream {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    readonly stream: string,
    readonly subject: string,
    private readonly sealKey: Buffer,
    private readonly limits: StreamLimits,
  ) {}

  /** Makes the stream when it is missing (a second maker gets the same one) and says where it stands. */
  async ensure(): Promise<StreamState> {
    const existing = await this.state();
    if (existing) return existing;
    try {
      const info = await this.jsm.streams.add({
        name: this.stream,
        subjects: [this.subject],
        storage: 'memory' as never,
        retention: 'limits' as never,
        discard: 'old' as never,
        max_msgs: this.limits.maxMsgs,
        max_bytes: this.limits.maxBytes,
        max_msg_size: MAX_BATCH_BYTES,
        duplicate_window: DUPLICATE_WINDOW_NS,
        num_replicas: this.limits.replicas,
      });
      return {
        epoch: epochOf(this.stream, info.created),
        first: info.state.first_seq,
        last: info.state.last_seq,
      };
    } catch (err) {
      // Another daemon made it first (with the same configuration): use that one.
      const made = await this.state();
      if (made) return made;
      throw err;
    }
  }

  /** Where the stream stands; undefined when it does not exist. */
  async state(): Promise<StreamState | undefined> {
    try {
      const info = await this.jsm.streams.info(this.stream);
      return {
        epoch: epochOf(this.stream, info.created),
        first: info.state.first_seq,
        last: info.state.last_seq,
      };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === 10059) return undefined; // stream not found
      throw err;
    }
  }

  /**
   * Appends a batch if the stream's last sequence is still `expectLast`; its stream sequence.
   * `msgId` makes a retry after a lost acknowledgement safe: JetStream answers it with the
   * original sequence (`duplicate`). Throws AppendConflict when someone appended first.
   */
  async append(
    batch: LogBatch,
    epoch: string,
    msgId: string,
    expectLast: number,
    timeoutMs: number,
  ): Promise<{ seq: number; duplicate: boolean }> {
    const payload = sealBatch(this.sealKey, this.subject, epoch, batch);
    if (payload.length > MAX_BATCH_BYTES) throw new Error('an event too large for the room log');
    try {
      const ack = await this.js.publish(this.subject, payload, {
        msgID: msgId,
        expect: { lastSequence: expectLast, streamName: this.stream },
        timeout: timeoutMs,
        retries: 0,
      });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      if (isWrongLastSequence(err)) throw new AppendConflict();
      throw err;
    }
  }

  /** The batch stored at stream sequence `seq`, or undefined (gone, or it does not open). */
  async get(seq: number, epoch: string): Promise<LogBatch | undefined> {
    const stored = await this.jsm.streams.getMessage(this.stream, { seq });
    return stored ? openBatch(this.sealKey, this.subject, epoch, stored.data) : undefined;
  }

  /**
   * Every batch from stream sequence `from` on, as the server stores them, until `stop()` or
   * until the server falls silent (no batch and no heartbeat for a while, or the client says
   * the consumer is gone): then the iteration ends and the caller follows again.
   */
  async follow(from: number): Promise<Follower> {
    const consumer = await this.js.consumers.get(this.stream, { opt_start_seq: Math.max(1, from) });
    const messages = await consumer.consume({
      max_bytes: FOLLOW_MAX_BYTES,
      idle_heartbeat: FOLLOW_HEARTBEAT_MS,
    });
    let heard = true;
    let silent = 0;
    const watchdog = setInterval(() => {
      if (heard) silent = 0;
      else if (++silent >= FOLLOW_SILENT_BEATS) messages.stop();
      heard = false;
    }, FOLLOW_HEARTBEAT_MS);
    watchdog.unref();
    void messages.closed().finally(() => {
      clearInterval(watchdog);
      // An ordered consumer is ephemeral: delete it now rather than after its inactivity limit.
      consumer.delete().catch(() => false);
    });
    void (async () => {
      for await (const status of messages.status()) {
        if (status.type === 'heartbeat') heard = true;
        else if (FOLLOWER_GONE.has(status.type)) messages.stop();
      }
    })().catch(() => undefined);
    return {
      stop: () => messages.stop(),
      async *[Symbol.asyncIterator]() {
        try {
          for await (const m of messages) {
            heard = true;
            yield m;
          }
        } finally {
          messages.stop();
        }
      },
    };
  }

  /** The batches from stream sequence `from` on, at most `count`, then the end (or 5 s). */
  async fetch(from: number, count: number): Promise<ConsumerMessages> {
    const consumer = await this.js.consumers.get(this.stream, { opt_start_seq: Math.max(1, from) });
    return consumer.fetch({ max_messages: Math.max(1, count), expires: 5000 });
  }

  /** Opens a followed message's batch (undefined when it does not open). */
  open(data: Uint8Array, epoch: string): LogBatch | undefined {
    return openBatch(this.sealKey, this.subject, epoch, data);
  }

  /** Drops every batch before stream sequence `seq`. */
  async purgeBefore(seq: number): Promise<void> {
    await this.jsm.streams.purge(this.stream, { seq });
  }

  /** Deletes the stream (a room nobody is in any more). */
  async remove(): Promise<void> {
    await this.jsm.streams.delete(this.stream).catch(() => false);
  }
}

function isWrongLastSequence(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === WRONG_LAST_SEQUENCE;
  return err instanceof Error && /wrong last sequence/.test(err.message);
}
