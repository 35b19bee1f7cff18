/**
 * The daemon: accepts connections from a transport, enforces the connection limits, runs
 * each handshake, then dispatches channel frames to rooms. It relays only ciphertext and
 * keeps everything in memory; `shutdown()` tells every member, closes and zeroes the keys.
 */
import { ProtocolError } from '../protocol/errors.js';
import { readClientFrame } from '../protocol/frames.js';
import { ServerHandshake, wipeResult } from '../protocol/handshake-server.js';
import type { DaemonLimits } from '../protocol/limits.js';
import type { Connection, Listener, ServerTransport } from '../transport/transport.js';
import { Link } from './link.js';
import type { Logger } from './log.js';
import type { Room } from './room.js';
import type { RoomRegistry } from './rooms.js';

export interface DaemonOptions {
  limits: DaemonLimits;
  registry: RoomRegistry;
  logger: Logger;
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
  errors: Record<string, number>;
}

interface ClientState {
  link: Link;
  phase: 'handshake' | 'authenticated' | 'member';
  handshake: ServerHandshake | undefined;
  room: Room | undefined;
  timer: NodeJS.Timeout | undefined;
}

export class Daemon {
  private readonly clients = new Set<ClientState>();
  private readonly perAddress = new Map<string, number>();
  private readonly listeners: Listener[] = [];
  private pending = 0;
  private stopping = false;
  private readonly counters = { handshakesOk: 0, handshakesFailed: 0, refusedBusy: 0 };
  private readonly errors: Record<string, number> = {};

  constructor(private readonly options: DaemonOptions) {}

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
      pendingHandshakes: this.pending,
      members,
      rooms: this.options.registry.size,
      ...this.counters,
      errors: { ...this.errors },
    };
  }

  /** Tells every member `shutdown`, stops listening, closes every connection and zeroes keys. */
  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
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
      client.link.close(client.phase === 'handshake' ? 'peer_closed' : 'shutdown');
    }
    await Promise.all(closing);
    this.options.registry.destroy();
  }

  private accept(conn: Connection): void {
    const { limits, logger } = this.options;
    const fromAddress = this.perAddress.get(conn.peer) ?? 0;
    const link = new Link(conn, limits);
    if (
      this.stopping ||
      this.clients.size >= limits.maxClients ||
      fromAddress >= limits.maxClientsPerAddress ||
      this.pending >= limits.maxPendingHandshakes
    ) {
      this.counters.refusedBusy++;
      this.count('busy');
      logger.detail(`refused a connection from ${conn.peer}: busy`);
      link.start({ onFrame: () => {}, onClose: () => {} });
      link.close('busy');
      return;
    }
    const client: ClientState = {
      link,
      phase: 'handshake',
      handshake: new ServerHandshake(this.options.registry),
      room: undefined,
      timer: setTimeout(() => link.close('timeout'), limits.handshakeTimeoutMs),
    };
    this.clients.add(client);
    this.perAddress.set(conn.peer, fromAddress + 1);
    this.pending++;
    link.start({
      onFrame: (frame) => this.onFrame(client, frame),
      onClose: (reason) => this.onClose(client, reason),
    });
  }

  private onFrame(client: ClientState, frame: Record<string, unknown>): void {
    if (client.phase === 'handshake') this.onHandshakeFrame(client, frame);
    else this.onChannelFrame(client, frame);
  }

  private onHandshakeFrame(client: ClientState, frame: Record<string, unknown>): void {
    const { link } = client;
    const { registry, limits, logger } = this.options;
    try {
      const { reply, result } = client.handshake!.handle(frame);
      if (!result) {
        link.sendPlain(reply);
        return;
      }
      const room = result.created
        ? registry.registerCreated(result.room, result.created)
        : registry.get(result.room);
      if (!room) throw new ProtocolError('auth_failed');
      link.sendPlain(reply);
      if (result.version === 1) link.startPlain();
      else link.startChannel(result.c2s, result.s2c);
      link.userId = result.userId;
      wipeResult(result);
      client.handshake = undefined;
      client.phase = 'authenticated';
      client.room = room;
      room.pendingJoins++;
      this.pending--;
      this.counters.handshakesOk++;
      clearTimeout(client.timer);
      client.timer = setTimeout(() => link.close('timeout'), limits.joinTimeoutMs);
      // An original client gave its name in srp_init, expects init right after H_AMK and
      // cannot retry another name on this connection.
      if (result.version === 1) {
        try {
          this.join(client, result.username);
        } catch (err) {
          link.close(err instanceof ProtocolError ? err.code : 'internal');
        }
      }
      logger.detail(`authenticated a client for room "${room.name}"${result.created ? ' (created it)' : ''}`);
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'internal';
      this.counters.handshakesFailed++;
      link.close(code);
    }
  }

  private onChannelFrame(client: ClientState, raw: Record<string, unknown>): void {
    const { link } = client;
    const room = client.room!;
    try {
      const frame = readClientFrame(raw, this.options.limits.maxMessageChars);
      switch (frame.type) {
        case 'join':
          this.join(client, frame.username);
          return;
        case 'ping':
          link.send({ type: 'pong', t: frame.t });
          return;
        default:
          break;
      }
      if (client.phase !== 'member') throw new ProtocolError('not_joined');
      if (frame.type === 'message') room.message(link.userId, frame.text);
      else if (frame.type === 'clear') room.clear(link.userId);
      else if (frame.type === 'nick') room.rename(link.userId, frame.username);
    } catch (err) {
      // Inside the channel, errors are reported and the member stays.
      const code = err instanceof ProtocolError ? err.code : 'internal';
      this.count(code);
      link.send({
        type: 'error',
        code,
        message: err instanceof ProtocolError ? err.message : 'internal error',
      });
    }
  }

  /** Puts an authenticated client in its room; throws `name_taken`, `bad_name`, `busy`… */
  private join(client: ClientState, username: unknown): void {
    if (client.phase === 'member') throw new ProtocolError('already_joined');
    const room = client.room!;
    room.join(client.link, username);
    client.phase = 'member';
    room.pendingJoins--;
    clearTimeout(client.timer);
    client.timer = undefined;
    this.options.logger.detail(`"${String(username)}" joined room "${room.name}"`);
  }

  private onClose(client: ClientState, reason: string): void {
    if (!this.clients.delete(client)) return;
    clearTimeout(client.timer);
    const { link } = client;
    const peer = link.conn.peer;
    const left = (this.perAddress.get(peer) ?? 1) - 1;
    if (left === 0) this.perAddress.delete(peer);
    else this.perAddress.set(peer, left);
    if (client.phase === 'handshake') {
      this.pending--;
      client.handshake?.destroy();
    }
    const room = client.room;
    if (room) {
      if (client.phase === 'member') room.leave(link.userId);
      else room.pendingJoins--;
      this.options.registry.releaseIfEmpty(room);
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
