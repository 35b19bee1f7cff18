/**
 * Where a cluster's rooms live: the `RoomStore` of lib/rooms/seam.ts on NATS JetStream. A
 * room is a memory stream of its own (lib/cluster/jetstream-log.ts) and its share of one KV
 * bucket of names (lib/cluster/name-bucket.ts); this daemon's lease and the hold keys live in
 * two more buckets (lib/cluster/leases.ts). Everything is memory storage, replicated when
 * `replicas` > 1 (a NATS cluster). The store sweeps the names of its open rooms, and after a
 * reconnection catches every open room up with its stream (a server that restarted has lost
 * its memory streams: the logs start over with a new epoch and the name tables empty).
 */
import { randomBytes } from 'node:crypto';
import { JetStreamApiError, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm, type KvOptions } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DirectChannel, LogLimits, RoomBacking, RoomStore } from '../rooms/seam.js';
import { JetStreamLog } from './jetstream-log.js';
import { bucketNames, type ClusterKeys, roomLogNames } from './keys.js';
import { Leases } from './leases.js';
import { NameBucket } from './name-bucket.js';
import { OpenRoomBucket } from './open-rooms.js';
import { RoomStream } from './room-stream.js';

export interface JetStreamStoreOptions {
  /** Retention of every room's log (the resume window). */
  limits: LogLimits;
  /** How long a held name is kept (the resume grace, ms): the holds bucket's TTL. */
  holdMs: number;
  /** How long a daemon's lease lives unrenewed (ms): a dead daemon's names are held after about this. */
  leaseMs: number;
  /** Copies of every stream and bucket: 1 on one nats-server, 3 in a NATS cluster of three. */
  replicas?: number;
  /** This daemon's run id (32 hex); a random one when absent. */
  runId?: string;
  /** Told when a batch or an entry did not open (forged or replayed on the server). */
  onRejected?(): void;
  /** Told when this daemon's lease had lapsed (its members may have been taken for gone). */
  onLapsed?(): void;
  /** Told when a resynchronisation ended (after a reconnection or a lapse): `restarted` rooms started over. */
  onResynced?(restarted: number): void;
  /** The direct channel (private messages across daemons) of the room under a key. */
  direct?(roomKey: string): DirectChannel;
}

interface OpenRoom {
  log: JetStreamLog;
  names: NameBucket;
  direct?: DirectChannel;
}

/**
 * Stored bytes per character of message text (JSON escaping; Fernet tokens are base64, so
 * 1 is typical) and per event besides its text (its id, the message's fields, its share of
 * a batch's headers and seal). A stream reserves its `max_bytes` in the server's
 * `max_memory_store`, so this also bounds how many rooms a server holds.
 */
const BYTES_PER_CHAR = 1.5;
const EVENT_OVERHEAD = 192;
/**
 * A stream's byte limit at least: the largest event (a 64 Ki-character message whose every
 * character JSON escapes to 6 bytes) with room to spare. A stream drops a message larger than
 * its byte limit as soon as it is stored, so with a smaller limit no other daemon would see it.
 */
const MIN_STREAM_BYTES = 512 * 1024;

/** JetStream's error code for a new stream whose subjects another stream has. */
const SUBJECTS_OVERLAP = 10065;
const BUCKET_ATTEMPTS = 5;

/**
 * Makes a bucket, or finds the one another daemon made. Daemons starting at once (`serve
 * --workers`) race to make the same buckets, and nats-server can refuse the later maker with
 * "subjects overlap with an existing stream" while the first is being made (seen under load):
 * a new attempt finds the bucket made. Any other refusal (another configuration) is final.
 */
export async function createBucket(
  kvm: Pick<Kvm, 'create'>,
  name: string,
  options: Partial<KvOptions>,
): Promise<KV> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await kvm.create(name, options);
    } catch (err) {
      const racing = err instanceof JetStreamApiError && err.code === SUBJECTS_OVERLAP;
      if (!racing || attempt >= BUCKET_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

export class JetStreamRoomStore implements RoomStore {
  private readonly rooms = new Map<string, Promise<OpenRoom>>();
  private sweeper: NodeJS.Timeout | undefined;
  private watchingStatus = true;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly keys: ClusterKeys,
    private readonly options: JetStreamStoreOptions,
    private buckets: { names: KV; leases: KV; holds: KV; rooms: KV },
    private readonly leases: Leases,
    /** The open rooms every daemon of the cluster knows. */
    readonly openRooms: OpenRoomBucket,
  ) {}

  /** Makes (or finds) the buckets and this daemon's lease on a connected NATS client. */
  static async start(
    nc: NatsConnection,
    keys: ClusterKeys,
    options: JetStreamStoreOptions,
  ): Promise<JetStreamRoomStore> {
    const jsm = await jetstreamManager(nc);
    const buckets = await JetStreamRoomStore.buckets(nc, keys, options);
    let store: JetStreamRoomStore | undefined;
    const leases = await Leases.start({
      daemons: buckets.leases,
      holds: buckets.holds,
      runId: options.runId ?? randomBytes(16).toString('hex'),
      leaseMs: options.leaseMs,
      onLapsed: () => {
        options.onLapsed?.();
        void store?.resync();
      },
    });
    const openRooms = new OpenRoomBucket(keys, buckets.rooms);
    await openRooms.start();
    store = new JetStreamRoomStore(nc, jsm, keys, options, buckets, leases, openRooms);
    store.sweeper = setInterval(() => void store?.sweep(), Math.max(50, options.leaseMs / 2));
    store.sweeper.unref();
    void store.followStatus();
    return store;
  }

  private static async buckets(
    nc: NatsConnection,
    keys: ClusterKeys,
    options: JetStreamStoreOptions,
  ): Promise<{ names: KV; leases: KV; holds: KV; rooms: KV }> {
    const kvm = new Kvm(nc);
    const names = bucketNames(keys);
    const common = { storage: 'memory' as never, history: 1, replicas: options.replicas ?? 1 };
    const [n, l, h, r] = await Promise.all([
      createBucket(kvm, names.names, common),
      createBucket(kvm, names.leases, { ...common, ttl: options.leaseMs }),
      createBucket(kvm, names.holds, { ...common, ttl: options.holdMs }),
      createBucket(kvm, names.rooms, common),
    ]);
    return { names: n, leases: l, holds: h, rooms: r };
  }

  open(roomKey: string): Promise<RoomBacking> {
    let room = this.rooms.get(roomKey);
    if (!room) {
      room = this.openRoom(roomKey);
      this.rooms.set(roomKey, room);
      room.catch(() => this.rooms.delete(roomKey));
    }
    return room;
  }

  async close(roomKey: string): Promise<void> {
    const room = await this.rooms.get(roomKey)?.catch(() => undefined);
    this.rooms.delete(roomKey);
    if (!room) return;
    room.log.close();
    room.names.stop();
    // Nobody in the room on any daemon: its log goes, and a later open starts a new epoch.
    if ((await room.names.list()).length === 0) {
      await this.roomStream(roomKey).remove();
    }
  }

  async dispose(): Promise<void> {
    this.watchingStatus = false;
    this.openRooms.stop();
    if (this.sweeper) clearInterval(this.sweeper);
    for (const room of this.rooms.values()) {
      const r = await room.catch(() => undefined);
      r?.log.close();
      r?.names.stop();
    }
    this.rooms.clear();
    await this.leases.stop();
  }

  /** Sweeps the names of every open room (dead daemons' members held, expired holds purged). */
  async sweep(): Promise<void> {
    for (const room of this.rooms.values()) {
      const r = await room.catch(() => undefined);
      await r?.names.sweep().catch(() => undefined);
    }
  }

  /** After a reconnection or a lapse: buckets and lease back, every open room caught up. */
  async resync(): Promise<void> {
    this.buckets = await JetStreamRoomStore.buckets(this.nc, this.keys, this.options).catch(
      () => this.buckets,
    );
    await this.leases.renew();
    let restarted = 0;
    for (const room of this.rooms.values()) {
      const r = await room.catch(() => undefined);
      if (!r) continue;
      const before = r.log.epoch;
      await r.log.sync().catch(() => undefined);
      if (r.log.epoch !== before) {
        // The server started over: the names went with the stream.
        restarted++;
        r.names.stop();
        r.names.reset();
        await r.names.start().catch(() => undefined);
      }
    }
    this.options.onResynced?.(restarted);
  }

  /** The memory stream of a room's log, under its keyed names. */
  private roomStream(roomKey: string): RoomStream {
    const { stream, subject } = roomLogNames(this.keys, roomKey);
    return new RoomStream(
      this.jsm,
      jetstream(this.nc),
      stream,
      subject,
      this.keys.sealKey,
      this.streamLimits(),
    );
  }

  private async openRoom(roomKey: string): Promise<OpenRoom> {
    const { id } = roomLogNames(this.keys, roomKey);
    const roomStream = this.roomStream(roomKey);
    const logOptions = {
      keys: this.keys,
      roomId: id,
      // Every id the log can hold: no stored event is smaller than 128 bytes.
      maxIds: Math.max(4096, Math.ceil(this.streamLimits().maxBytes / 128)),
      // A batch the stream's byte limit could not keep would be dropped as soon as stored.
      maxBatchBytes: Math.floor(this.streamLimits().maxBytes / 4),
      ...(this.options.onRejected ? { onRejected: this.options.onRejected } : {}),
    };
    const log = await JetStreamLog.open(roomStream, logOptions);
    const names = new NameBucket({
      keys: this.keys,
      kv: this.buckets.names,
      leases: this.leases,
      roomId: id,
      holdMs: this.options.holdMs,
    });
    await names.start();
    const direct = this.options.direct?.(id);
    return direct ? { log, names, direct } : { log, names };
  }

  private streamLimits(): { maxMsgs: number; maxBytes: number; replicas: number } {
    const { maxEvents, maxChars } = this.options.limits;
    return {
      maxMsgs: maxEvents,
      maxBytes: Math.max(MIN_STREAM_BYTES, Math.ceil(maxChars * BYTES_PER_CHAR) + EVENT_OVERHEAD * maxEvents),
      replicas: this.options.replicas ?? 1,
    };
  }

  /** Resynchronises after every reconnection to NATS. */
  private async followStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (!this.watchingStatus) break;
      if (status.type === 'reconnect') void this.resync().catch(() => undefined);
    }
  }
}
