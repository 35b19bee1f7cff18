/**
 * The daemon: accepts connections from a transport, enforces the connection limits, runs
 * each handshake (scheduled by the admission: members' traffic first, fair across sources,
 * rate-limited and backed off per source; a full table of unfinished handshakes makes room:
 * pending-handshakes.ts), then dispatches channel frames to rooms (a join through joins.ts),
 * each connection through its phases (connection-state.ts). It relays only ciphertext and
 * keeps everything in memory; `shutdown()` tells every member, closes and zeroes the keys.
 * What waits for each member is watched by queue-watch.ts (slow readers, the daemon-wide
 * bound); a member silent for `keepaliveMs` (pinged meanwhile) is gone: it is dropped and the
 * others see it leave (keepalive.ts).
 */

import { ProtocolError } from '../protocol/errors.js';
import { readClientFrame } from '../protocol/frames.js';
import { type HandshakeResult, ServerHandshake, wipeResult } from '../protocol/handshake-server.js';
import type { DaemonLimits } from '../protocol/limits.js';
import type { Connection, Listener, ServerTransport } from '../transport/transport.js';
import { budgetKey, HandshakeScheduler, SourceTable, sourceKey } from './admission.js';
import {
  type Authenticated,
  type ClientState,
  connectionLost,
  type Handshaking,
  type Joined,
} from './connection-state.js';
import { Joins } from './joins.js';
import { KeepaliveSweep } from './keepalive.js';
import { type CloseReason, Link } from './link.js';
import type { Logger } from './log.js';
import { PendingHandshakes } from './pending-handshakes.js';
import { QueueWatch } from './queue-watch.js';
import { RateBuckets } from './rate-buckets.js';
import type { Room } from './room.js';
import type { RoomRegistry } from './rooms.js';

export interface DaemonOptions {
  limits: DaemonLimits;
  registry: RoomRegistry;
  logger: Logger;
  /**
   * Every peer arrives through a proxy (a Tor onion service, a reverse proxy) and has its
   * address: limits are then not keyed by address (see admission.ts).
   */
  behindProxy?: boolean;
}

/** Counters for the log and the tests; no names in here. */
export interface DaemonStats {
  connections: number;
  pendingHandshakes: number;
  members: number;
  rooms: number;
  handshakesOk: number;
  handshakesFailed: number;
  refusedBusy: number;
  /** Unfinished handshakes closed to make room for new ones. */
  evicted: number;
  /** Sources in the admission table. */
  trackedSources: number;
  /** Bytes waiting for all peers now (sealed or not), and the most left after a queue check. */
  queuedBytes: number;
  peakQueuedBytes: number;
  /** Members dropped because all queues together passed `maxQueueTotalBytes`. */
  droppedForMemory: number;
  errors: Record<string, number>;
}

/** Handshake frames a client may send ahead of the challenge (srp_verify is the only one). */
const MAX_DEFERRED_FRAMES = 2;
/** Frames a client may send while its join is on its way (a client waits for its `init`). */
const MAX_FRAMES_WHILE_JOINING = 256;

export class Daemon {
  private readonly clients = new Set<ClientState>();
  private readonly perAddress = new Map<string, number>();
  private readonly listeners: Listener[] = [];
  private readonly pending: PendingHandshakes;
  private readonly sources: SourceTable;
  private readonly scheduler: HandshakeScheduler;
  private stopping = false;
  private readonly counters = {
    handshakesOk: 0,
    handshakesFailed: 0,
    refusedBusy: 0,
  };
  private readonly queues: QueueWatch;
  private readonly keepalive: KeepaliveSweep<Link>;
  private readonly errors: Record<string, number> = {};
  private readonly buckets: RateBuckets;
  private readonly joins: Joins;

  constructor(private readonly options: DaemonOptions) {
    this.sources = new SourceTable(options.limits);
    this.scheduler = new HandshakeScheduler(options.behindProxy ? undefined : this.sources);
    this.pending = new PendingHandshakes(options.logger);
    this.queues = new QueueWatch(options.limits, options.logger, () => this.clients);
    this.buckets = new RateBuckets(options.limits);
    const host = {
      onChannelFrame: (client: ClientState, phase: Authenticated | Joined, raw: Record<string, unknown>) =>
        this.onChannelFrame(client, phase, raw),
      reportError: (client: ClientState, err: unknown) => this.reportError(client, err),
    };
    this.joins = new Joins(host, options.registry, options.logger, this.buckets);
    this.keepalive = new KeepaliveSweep(
      options.limits.keepaliveMs,
      () => this.authenticatedLinks(),
      (link) => link.close('keepalive'),
    );
  }

  /** Links past the handshake: the ones the keepalive watches. */
  private *authenticatedLinks(): Iterable<Link> {
    for (const client of this.clients) {
      const kind = client.phase.kind;
      if (kind === 'authenticated' || kind === 'member') yield client.link;
    }
  }

  async listen(transport: ServerTransport): Promise<Listener> {
    const listener = await transport.listen((conn) => this.accept(conn));
    this.listeners.push(listener);
    return listener;
  }

  stats(): DaemonStats {
    let members = 0;
    for (const room of this.options.registry.all()) members += room.memberCount;
    return {
      connections: this.clients.size,
      pendingHandshakes: this.pending.size,
      trackedSources: this.sources.size,
      queuedBytes: this.queues.totalQueued(),
      peakQueuedBytes: this.queues.peakQueuedBytes,
      members,
      rooms: this.options.registry.size,
      ...this.counters,
      evicted: this.pending.evicted,
      droppedForMemory: this.queues.droppedForMemory,
      errors: { ...this.errors },
    };
  }

  /** Tells every member `shutdown`, stops listening, closes every connection and zeroes keys. */
  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.queues.stop();
    this.keepalive.stop();
    this.scheduler.clear();
    await Promise.all(this.listeners.map((l) => l.close()));
    const closing: Promise<void>[] = [];
    for (const client of [...this.clients]) {
      const stream = client.link.conn.stream;
      closing.push(
        new Promise<void>((resolve) => {
          if (stream.destroyed) return resolve();
          stream.once('close', () => resolve());
          setTimeout(resolve, 2000).unref();
        }),
      );
      client.link.close(client.phase.kind === 'handshaking' ? 'peer_closed' : 'shutdown');
    }
    await Promise.all(closing);
    // Names held for the members told `shutdown` are written before the store lets go.
    await this.options.registry.settle();
    await this.options.registry.destroy();
  }

  private accept(conn: Connection): void {
    const { limits, logger } = this.options;
    const source = sourceKey(conn.peer, this.options.behindProxy ?? false);
    const fromAddress = source === undefined ? 0 : (this.perAddress.get(source) ?? 0);
    const link = new Link(conn, limits);
    if (
      this.stopping ||
      this.clients.size >= limits.maxClients ||
      (source !== undefined && fromAddress >= limits.maxClientsPerAddress) ||
      limits.maxPendingHandshakes === 0
    ) {
      this.counters.refusedBusy++;
      this.count('busy');
      logger.detail(`refused a connection from ${conn.peer}: busy`);
      link.start({ onFrame: () => {}, onClose: () => {} });
      link.close('busy');
      return;
    }
    if (this.pending.size >= limits.maxPendingHandshakes) this.pending.evictOne();
    const client: ClientState = {
      link,
      source,
      budget: budgetKey(source),
      phase: {
        kind: 'handshaking',
        handshake: new ServerHandshake(this.options.registry),
        timeout: setTimeout(() => link.close('timeout'), limits.handshakeTimeoutMs),
        acceptedAt: performance.now(),
        init: 'unseen',
        deferred: [],
      },
    };
    this.clients.add(client);
    if (source !== undefined) this.perAddress.set(source, fromAddress + 1);
    this.pending.add(client);
    link.start({
      onFrame: (frame) => this.onFrame(client, frame),
      onClose: (reason) => this.onClose(client, reason),
      onQueueOver: () => this.queues.schedule(),
    });
  }

  private onFrame(client: ClientState, frame: Record<string, unknown>): void {
    const phase = client.phase;
    if (phase.kind === 'closed') return;
    if (phase.kind !== 'handshaking') {
      this.onChannelFrame(client, phase, frame);
      return;
    }
    if (phase.init === 'handled') {
      this.onHandshakeFrame(client, phase, frame);
      return;
    }
    if (phase.init === 'submitted') {
      // The challenge is not out yet: keep the client's next frames in order, a few at most.
      if (phase.deferred.length >= MAX_DEFERRED_FRAMES) client.link.close('bad_request');
      else phase.deferred.push(frame);
      return;
    }
    phase.init = 'submitted';
    // A source backed off for longer than the handshake may last is told so right away.
    const left = this.options.limits.handshakeTimeoutMs - (performance.now() - phase.acceptedAt);
    if (this.scheduler.waitMs(client.budget) >= left) {
      this.count('rate_limited');
      this.options.logger.detail(`refused a handshake from ${client.link.conn.peer}: backed off`);
      client.link.close('rate_limited');
      return;
    }
    this.scheduler.submit(client.budget, {
      alive: () => !client.link.isClosed,
      run: () => {
        phase.init = 'handled';
        this.onHandshakeFrame(client, phase, frame);
        for (const next of phase.deferred.splice(0)) {
          if (client.link.isClosed) return;
          this.onFrame(client, next);
        }
      },
    });
  }

  private onHandshakeFrame(client: ClientState, phase: Handshaking, frame: Record<string, unknown>): void {
    const { link } = client;
    const { registry } = this.options;
    try {
      const { reply, result } = phase.handshake.handle(frame);
      if (!result) {
        link.sendPlain(reply);
        return;
      }
      // The room must be the very one whose credentials the client proved its password for:
      // an open room that emptied and was re-created meanwhile is another room.
      const room = result.created
        ? registry.registerCreated(result.room, result.created, client.budget)
        : registry.get(result.room);
      if (!room || (!result.created && room.credentials !== result.credentials)) {
        throw new ProtocolError('auth_failed');
      }
      // The room's backing is open before the reply (its log and names may live elsewhere).
      room.pendingJoins++;
      room.ready().then(
        () => this.authenticated(client, phase, room, reply, result),
        (err: unknown) => {
          // A refusal (another daemon recorded the open room first) is the client's answer.
          const refused = err instanceof ProtocolError;
          if (!refused)
            this.options.logger.info(`could not open a room: ${(err as Error).message.split('\n')[0]}`);
          room.pendingJoins--;
          this.counters.handshakesFailed++;
          wipeResult(result);
          link.close(refused ? err.code : 'busy');
          registry.releaseIfEmpty(room);
        },
      );
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'internal';
      this.counters.handshakesFailed++;
      if (code === 'auth_failed') this.failedProof(client);
      link.close(code);
    }
  }

  /** The password is proved and the room open: the handshake's reply, then the channel. */
  private authenticated(
    client: ClientState,
    phase: Handshaking,
    room: Room,
    reply: object,
    result: HandshakeResult,
  ): void {
    const { link } = client;
    const { limits, logger } = this.options;
    if (client.phase !== phase || link.isClosed) {
      room.pendingJoins--;
      wipeResult(result);
      this.options.registry.releaseIfEmpty(room);
      return;
    }
    try {
      // An original client prints an error in place of H_AMK, but ignores one after it: refuse
      // a taken name or a full room now (only to a client that proved the password).
      if (result.version === 1) room.checkJoin(result.username);
      link.sendPlain(reply);
      if (result.version === 1) link.startPlain();
      else link.startChannel(result.c2s, result.s2c, result.tag);
      link.userId = result.userId;
      wipeResult(result);
      clearTimeout(phase.timeout);
      const authenticated: Authenticated = {
        kind: 'authenticated',
        room,
        timeout: setTimeout(() => link.close('timeout'), limits.joinTimeoutMs),
        joining: undefined,
        waiting: [],
      };
      client.phase = authenticated;
      link.roomInflow = this.buckets.inflowOf(room);
      this.pending.remove(client);
      // A success forgives its own source; the shared budget of PROXY UNKNOWN keeps its failures.
      if (client.source !== undefined && client.source === client.budget) this.sources.succeed(client.source);
      this.counters.handshakesOk++;
      // An original client gave its name in srp_init, expects init right after H_AMK and
      // cannot retry another name on this connection.
      if (result.version === 1) {
        try {
          this.joins.join(client, authenticated, result.username, {}, true);
        } catch (err) {
          link.close(err instanceof ProtocolError ? err.code : 'internal');
        }
      }
      logger.detail(`authenticated a client for room "${room.name}"${result.created ? ' (created it)' : ''}`);
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'internal';
      this.counters.handshakesFailed++;
      wipeResult(result);
      // Still handshaking: its close will not count it out of the room, so this does.
      if (client.phase === phase) room.pendingJoins--;
      link.close(code);
      this.options.registry.releaseIfEmpty(room);
    }
  }

  /** Counts a failed proof against the client's source (backing it off) and logs it. */
  private failedProof(client: ClientState): void {
    const peer = client.link.conn.peer;
    if (client.budget === undefined) {
      this.options.logger.detail(`failed proof from ${peer}`);
      return;
    }
    const { failures, backoffMs } = this.sources.fail(client.budget);
    this.options.logger.detail(
      `failed proof from ${peer} (${failures} from ${client.budget}` +
        `${backoffMs > 0 ? `; its handshakes wait ${backoffMs / 1000} s` : ''})`,
    );
  }

  /** A frame inside the channel (also a frame that waited for a join: joins.ts). */
  private onChannelFrame(
    client: ClientState,
    phase: Authenticated | Joined,
    raw: Record<string, unknown>,
  ): void {
    const { link } = client;
    const room = phase.room;
    if (phase.kind === 'authenticated' && phase.joining !== undefined) {
      if (phase.waiting.length >= MAX_FRAMES_WHILE_JOINING) link.close('bad_request');
      else phase.waiting.push(raw);
      return;
    }
    try {
      const frame = readClientFrame(raw, this.options.limits.maxMessageChars);
      switch (frame.type) {
        case 'join':
          if (phase.kind === 'member') throw new ProtocolError('already_joined');
          this.joins.whenDue(client, phase, frame.username, {
            ...(frame.card !== undefined ? { card: frame.card } : {}),
            ...(frame.resume !== undefined ? { resume: frame.resume } : {}),
            ...(frame.after !== undefined ? { after: frame.after } : {}),
            ...(client.source !== undefined ? { source: client.source } : {}),
            resumable: true,
          });
          return;
        case 'leave':
          if (phase.kind === 'member') phase.leaving = true;
          return;
        case 'ping':
          link.send({ type: 'pong', t: frame.t });
          return;
        case 'pong': // the answer to a keepalive ping: reading it was the sign of life
          return;
        default:
          break;
      }
      if (phase.kind !== 'member') throw new ProtocolError('not_joined');
      if (frame.type === 'message') room.message(link.userId, frame.text, Date.now(), frame.mid);
      else if (frame.type === 'clear') room.clear(link.userId);
      else if (frame.type === 'nick')
        room.rename(link.userId, frame.username).catch((err: unknown) => this.reportError(client, err));
      else if (frame.type === 'private') room.privateMessage(link.userId, frame.to, frame.text);
    } catch (err) {
      this.reportError(client, err);
    }
  }

  /** Inside the channel, errors are reported and the member stays. */
  private reportError(client: ClientState, err: unknown): void {
    const code = err instanceof ProtocolError ? err.code : 'internal';
    this.count(code);
    client.link.send({
      type: 'error',
      code,
      message: err instanceof ProtocolError ? err.message : 'internal error',
    });
  }

  private onClose(client: ClientState, reason: CloseReason): void {
    if (!this.clients.delete(client)) return;
    const phase = client.phase;
    client.phase = { kind: 'closed' };
    const { link, source } = client;
    if (source !== undefined) {
      const left = (this.perAddress.get(source) ?? 1) - 1;
      if (left === 0) this.perAddress.delete(source);
      else this.perAddress.set(source, left);
    }
    switch (phase.kind) {
      case 'handshaking':
        clearTimeout(phase.timeout);
        this.pending.remove(client);
        phase.handshake.destroy();
        break;
      case 'authenticated':
        clearTimeout(phase.timeout);
        if (phase.joining?.kind === 'paced') clearTimeout(phase.joining.timer);
        phase.room.pendingJoins--;
        this.options.registry.releaseIfEmpty(phase.room);
        break;
      case 'member':
        // A member told `shutdown` may come back (through another daemon of a cluster, or this
        // one restarted): its name is held as after a loss. The others were told `shutdown`
        // first, so no one sees them all leave.
        phase.room.leave(link.userId, !phase.leaving && (connectionLost(reason) || reason === 'shutdown'));
        if (!this.stopping) this.options.registry.releaseIfEmpty(phase.room);
        break;
      case 'closed':
        break;
    }
    if (reason !== 'peer_closed' && reason !== 'shutdown') {
      this.count(reason);
      this.options.logger.info(`closed a connection: ${reason}`);
    }
  }

  private count(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }
}
