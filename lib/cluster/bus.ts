/**
 * The room bus: the one seam between a daemon's rooms and the other daemons of a cluster.
 * A room publishes its events (joins, leaves, messages, ...) and receives those of the same
 * room on other daemons; the bus neither interprets nor stores them. `LocalBus` is the
 * single-daemon bus (nothing crosses); `NatsRoomBus` carries sealed events over NATS, on
 * subjects that are keyed hashes of the room names. Before a daemon accepts another's events
 * the two introduce themselves on a subject of their own (lib/cluster/peers.ts: a challenge
 * answered, no clock read).
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../server/log.js';
import { type ClusterConnectOptions, connectCluster, type LinkState } from './connection.js';
import { type ClusterKeys, controlSubject, roomSubject } from './keys.js';
import { PeerGuard } from './peers.js';
import { type Envelope, open, seal } from './seal.js';

/** A bus event: a JSON object; its meaning belongs to the rooms. */
export type BusEvent = Record<string, unknown>;
/** Receives one event that another daemon published, with that daemon's run id. */
export type BusHandler = (event: BusEvent, from: string) => void;

/** Largest sealed payload sent or accepted (NATS's default max_payload is 1 MiB). */
export const MAX_BUS_PAYLOAD = 1024 * 1024;
/** At most one challenge (hello) per this many ms, however many strangers speak (monotonic). */
const HELLO_INTERVAL_MS = 500;
/** The bus's own room name for introductions: no room name contains a NUL. */
const PEERS_ROOM = '\0peers';

export interface BusStats {
  published: number;
  received: number;
  /**
   * Payloads dropped on receipt: malformed, forged, sealed for another subject, replayed,
   * oversized, or from a daemon not introduced yet.
   */
  rejected: number;
  /** Events not sent: too large, or the connection was closed. */
  unsent: number;
}

export interface RoomBus {
  /** This daemon's random run id, as other daemons see it in `from`. */
  readonly nodeId: string;
  /** Starts delivering the room's events from other daemons to `handler` (one handler per room). */
  subscribeRoom(room: string, handler: BusHandler): void;
  unsubscribeRoom(room: string): void;
  /** Sends an event to the room on every other daemon; never throws. */
  publish(room: string, event: BusEvent): void;
  /** The cluster-wide channel (announcements, room lists). */
  subscribeControl(handler: BusHandler): void;
  publishControl(event: BusEvent): void;
  /** Called with 'down' when the bus is lost and 'up' when it is back (time to resynchronise). */
  onState(listener: (state: LinkState) => void): void;
  readonly stats: BusStats;
  close(): Promise<void>;
}

/** The bus of a daemon that is not part of a cluster: nothing crosses it. */
export class LocalBus implements RoomBus {
  readonly nodeId: string = randomBytes(16).toString('hex');
  readonly stats: BusStats = { published: 0, received: 0, rejected: 0, unsent: 0 };
  subscribeRoom(): void {}
  unsubscribeRoom(): void {}
  publish(): void {}
  subscribeControl(): void {}
  publishControl(): void {}
  onState(): void {}
  async close(): Promise<void> {}
}

/** A bus over one NATS connection. */
export class NatsRoomBus implements RoomBus {
  readonly nodeId: string = randomBytes(16).toString('hex');
  readonly stats: BusStats = { published: 0, received: 0, rejected: 0, unsent: 0 };
  private seq = 0;
  private readonly guard: PeerGuard = new PeerGuard(this.nodeId);
  private lastHello = Number.NEGATIVE_INFINITY;
  private helloTimer: NodeJS.Timeout | undefined;
  private readonly rooms = new Map<string, Subscription>();
  private control: Subscription | undefined;
  private readonly stateListeners: Array<(state: LinkState) => void> = [];
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly keys: ClusterKeys,
    private readonly log: Logger,
  ) {}

  /** Connects to NATS (rejects if the first attempt fails) and returns the bus. */
  static async connect(options: ClusterConnectOptions, keys: ClusterKeys, log: Logger): Promise<NatsRoomBus> {
    let bus: NatsRoomBus | undefined;
    const pending: LinkState[] = [];
    const nc = await connectCluster(options, log, (state) => {
      if (bus) bus.emitState(state);
      else pending.push(state);
    });
    bus = new NatsRoomBus(nc, keys, log);
    // Not secret: equal ids on two daemons mean they share the cluster secret.
    log.info(`cluster: cluster key id ${keys.keyId}`);
    for (const state of pending) bus.emitState(state);
    bus.meetPeers();
    return bus;
  }

  subscribeRoom(room: string, handler: BusHandler): void {
    if (this.closed || this.rooms.has(room)) return;
    const subject = roomSubject(this.keys, room);
    this.rooms.set(room, this.listen(subject, handler));
  }

  unsubscribeRoom(room: string): void {
    this.rooms.get(room)?.unsubscribe();
    this.rooms.delete(room);
  }

  publish(room: string, event: BusEvent): void {
    this.count(this.send(roomSubject(this.keys, room), event));
  }

  subscribeControl(handler: BusHandler): void {
    if (this.closed || this.control) return;
    this.control = this.listen(controlSubject(this.keys), handler);
  }

  publishControl(event: BusEvent): void {
    this.count(this.send(controlSubject(this.keys), event));
  }

  /** Whether events from the daemon with this run id are accepted (it introduced itself). */
  knows(nodeId: string): boolean {
    return this.guard.knows(nodeId);
  }

  onState(listener: (state: LinkState) => void): void {
    this.stateListeners.push(listener);
  }

  /** The NATS connection under the bus (the room store of a cluster uses it too). */
  get connection(): NatsConnection {
    return this.nc;
  }

  /** Waits until everything published so far has reached the server (tests, shutdown). */
  async flush(): Promise<void> {
    if (!this.closed) await this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.rooms.clear();
    this.control = undefined;
    // Hands what is queued to the server, then closes; a dead server makes this give up.
    await this.nc.drain().catch(() => this.nc.close());
  }

  private emitState(state: LinkState): void {
    for (const listener of this.stateListeners) listener(state);
  }

  private count(sent: boolean): void {
    if (sent) this.stats.published++;
    else this.stats.unsent++;
  }

  /** Seals and publishes; false when it could not (closed, too large, the client's buffer full). */
  private send(subject: string, event: BusEvent): boolean {
    if (this.closed) return false;
    const envelope: Envelope = { from: this.nodeId, seq: ++this.seq, at: Date.now(), event };
    const payload = seal(this.keys.sealKey, subject, envelope);
    if (payload.length > MAX_BUS_PAYLOAD) return false;
    try {
      // While the server is away the client buffers (bounded); past that it throws.
      this.nc.publish(subject, payload);
      return true;
    } catch {
      return false;
    }
  }

  /** Listens for introductions and asks every daemon for one, now and after each reconnection. */
  private meetPeers(): void {
    const subject = roomSubject(this.keys, PEERS_ROOM);
    this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        const envelope = this.opened(subject, msg.data);
        if (envelope) this.onPeers(subject, envelope);
      },
    });
    this.onState((state) => {
      if (state === 'up') this.helloSoon();
    });
    this.helloSoon();
  }

  private onPeers(subject: string, envelope: Envelope): void {
    const { peers, c, to } = envelope.event;
    if (typeof c !== 'string' || !/^[0-9a-f]{32}$/.test(c)) return;
    if (peers === 'hello') {
      if (this.guard.answer(c)) this.send(subject, { peers: 'intro', to: envelope.from, c });
      // A daemon we do not know yet: it needs our challenge as much as we need its.
      if (!this.guard.knows(envelope.from)) this.helloSoon();
    } else if (peers === 'intro' && typeof to === 'string' && this.guard.introduce(envelope, to, c)) {
      this.noteOffset(envelope);
    }
  }

  /** Publishes a new challenge, at most one per HELLO_INTERVAL_MS. */
  private helloSoon(): void {
    if (this.closed || this.helloTimer) return;
    const wait = this.lastHello + HELLO_INTERVAL_MS - performance.now();
    if (wait > 0) {
      this.helloTimer = setTimeout(() => {
        this.helloTimer = undefined;
        this.helloSoon();
      }, wait);
      this.helloTimer.unref();
      return;
    }
    this.lastHello = performance.now();
    this.send(roomSubject(this.keys, PEERS_ROOM), { peers: 'hello', c: this.guard.challenge() });
  }

  /** Logs, once per peer, a clock far from ours; nothing depends on it. */
  private noteOffset(envelope: Envelope): void {
    const offset = this.guard.offsetToNote(envelope, Date.now());
    if (offset === undefined) return;
    const s = Math.round(Math.abs(offset) / 1000);
    this.log.info(
      `cluster: daemon ${envelope.from.slice(0, 8)}'s clock is ${s} s ${offset > 0 ? 'ahead of' : 'behind'} ours (nothing depends on it)`,
    );
  }

  /** An authentic envelope from another daemon on `subject`, or undefined (counted as rejected). */
  private opened(subject: string, data: Uint8Array): Envelope | undefined {
    const envelope = data.length <= MAX_BUS_PAYLOAD ? open(this.keys.sealKey, subject, data) : undefined;
    if (envelope?.from === this.nodeId) return undefined;
    if (!envelope) this.stats.rejected++;
    return envelope;
  }

  private listen(subject: string, handler: BusHandler): Subscription {
    return this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        const envelope = this.opened(subject, msg.data);
        if (!envelope) return;
        const verdict = this.guard.accept(envelope);
        if (verdict !== 'accept') {
          this.stats.rejected++;
          // Perhaps a daemon that started while we were away: ask it to introduce itself.
          if (verdict === 'unknown') this.helloSoon();
          return;
        }
        this.noteOffset(envelope);
        this.stats.received++;
        handler(envelope.event, envelope.from);
      },
    });
  }
}
