/**
 * One connection of a session: the transport's stream, the handshake over it, then its
 * reader (LineQueue), its record layer and its keepalive watch. A session replaces its
 * connection after a loss; everything here belongs to one connection and is dropped with it.
 */
import { roomFingerprint } from '../../crypto/kdf.js';
import { wipe } from '../../crypto/secret.js';
import { parseObject } from '../../protocol/codec.js';
import { ErrorText, isErrorCode, ProtocolError } from '../../protocol/errors.js';
import type { ServerFrame } from '../../protocol/frames.js';
import {
  type ClientHandshakeResult,
  clientHandshake,
  type MasterCache,
  type PasswordSource,
} from '../../protocol/handshake-client.js';
import type { ClientLimits } from '../../protocol/limits.js';
import type { ClientTransport, Connection } from '../../transport/transport.js';
import { TransportError } from '../../transport/transport.js';
import { SessionError } from './error.js';
import { DaemonWatch } from './keepalive.js';
import { CLOSED_BY_PEER, LineQueue, SLICE_MS } from './line-queue.js';
import type { SessionOptions } from './options.js';
import type { RecordLayer } from './records.js';

/**
 * An error frame followed this soon by the end of the connection is why the daemon closed
 * it: the session ends with that error instead of reconnecting to be refused again.
 */
export const FATAL_ERROR_WINDOW_MS = 2000;

/** What a handshake needs to know of the session. */
export interface HandshakeRequest {
  transport: ClientTransport;
  room: string;
  password: PasswordSource;
  create: boolean;
  legacy: boolean;
  original: boolean;
  username?: string;
  limits: ClientLimits;
  masterCache: MasterCache;
  onDeriving?: () => void;
}

/** The handshake a session's options ask for, with this password and protocol. */
export function handshakeRequest(
  options: SessionOptions,
  limits: ClientLimits,
  masterCache: MasterCache,
  password: PasswordSource,
  legacy = false,
  original = false,
): HandshakeRequest {
  return {
    transport: options.transport,
    room: options.room,
    password,
    create: options.create ?? false,
    legacy,
    original,
    ...(options.username !== undefined ? { username: options.username } : {}),
    limits,
    masterCache,
    onDeriving: () => options.onStage?.('deriving'),
  };
}

/** Any failure as a SessionError (its code picks the exit code). */
export function toSessionError(err: unknown): SessionError {
  if (err instanceof SessionError) return err;
  if (err instanceof TransportError) {
    return new SessionError(err.code === 'bad_options' ? 'protocol' : 'cannot_connect', err.message);
  }
  if (err instanceof ProtocolError) {
    const code = err.code;
    if (code === 'auth_failed') return new SessionError('auth_failed', err.message, code);
    if (code === 'name_taken' || code === 'bad_name') return new SessionError(code, err.message, code);
    if (code === 'bad_request' || code === 'too_large')
      return new SessionError('protocol', err.message, code);
    return new SessionError('refused', err.message, code);
  }
  return new SessionError('protocol', err instanceof Error ? err.message : String(err));
}

/** Lost connections the session recovers from (a refusal or a wrong password is final). */
export function recoverable(err: SessionError): boolean {
  if (err.daemonCode === 'replaced') return false;
  return (
    err.code === 'connection_lost' ||
    err.code === 'cannot_connect' ||
    err.code === 'shutdown' ||
    err.code === 'protocol' ||
    (err.code === 'refused' && err.daemonCode === 'busy')
  );
}

/**
 * A reconnect's handshake: the room must come back with the fingerprint (and protocol) of
 * the first connection, else it is not taken (`fingerprint_changed`).
 */
export async function reauthenticate(
  request: HandshakeRequest,
  fingerprint: string,
): Promise<{ queue: LineQueue; result: ClientHandshakeResult }> {
  const auth = await authenticate(request);
  const { result } = auth;
  const now = roomFingerprint(result.roomKey);
  if (result.mode === 'v2' && now === fingerprint) return auth;
  wipe(result.c2s, result.s2c, result.roomKey);
  auth.queue.conn.stream.destroy();
  throw new SessionError(
    'fingerprint_changed',
    `the room fingerprint changed from ${fingerprint} to ${now}: the daemon came back ` +
      'with another room configuration (or it is not the same daemon). Not rejoining; verify the new ' +
      'fingerprint out of band before connecting again.',
  );
}

/** A daemon's error code as a SessionError with its fixed human text. */
export function daemonError(code: string): SessionError {
  const message = isErrorCode(code) ? ErrorText[code] : `the daemon reported an error (${code.slice(0, 40)})`;
  return new SessionError(code === 'name_taken' || code === 'bad_name' ? code : 'refused', message, code);
}

/** Connects and runs the handshake; the caller owns the result's keys. */
export async function authenticate(
  request: HandshakeRequest,
): Promise<{ queue: LineQueue; result: ClientHandshakeResult }> {
  let conn: Connection;
  try {
    conn = await request.transport.connect();
  } catch (err) {
    throw toSessionError(err);
  }
  const { limits } = request;
  const queue = new LineQueue(conn, limits.maxHandshakeLineBytes);
  let answered = false;
  try {
    const result = await clientHandshake(
      {
        send: (frame) => conn.stream.write(JSON.stringify(frame) + '\n'),
        next: async () => {
          const line = await queue.next(limits.stepTimeoutMs);
          answered = true;
          try {
            return parseObject(line);
          } catch {
            throw notCmdChat(line);
          }
        },
      },
      {
        room: request.room,
        password: request.password,
        create: request.create,
        legacy: request.legacy,
        original: request.original,
        ...(request.username !== undefined ? { username: request.username } : {}),
        ...(request.onDeriving ? { onDeriving: request.onDeriving } : {}),
        masterCache: request.masterCache,
      },
    );
    return { queue, result };
  } catch (err) {
    conn.stream.destroy();
    // No handshake frame of ours comes near the limit on a handshake line.
    if (err instanceof ProtocolError && err.code === 'too_large') throw notCmdChat(undefined);
    if (err instanceof SessionError && err.message === CLOSED_BY_PEER) {
      throw new SessionError(
        'connection_lost',
        answered
          ? 'the connection was cut during the handshake'
          : 'the connection was cut during the handshake, before the daemon answered',
      );
    }
    throw toSessionError(err);
  }
}

/**
 * The first handshake of a session. A password asked for during it that took longer than the
 * daemon waits (its handshake timer ended the connection: `timeout`, or just closed) is used
 * on a new connection, once. Resolves with the password that was used.
 */
export async function firstHandshake(
  request: HandshakeRequest,
): Promise<{ queue: LineQueue; result: ClientHandshakeResult; password: string | Buffer }> {
  const source = request.password;
  let typed: string | Buffer | undefined;
  const password = typeof source === 'function' ? async () => (typed = await source()) : source;
  try {
    return {
      ...(await authenticate({ ...request, password })),
      password: typed ?? (source as string | Buffer),
    };
  } catch (err) {
    const timedOut =
      err instanceof SessionError && (err.code === 'connection_lost' || err.daemonCode === 'timeout');
    if (typed === undefined || !timedOut) throw err;
    return { ...(await authenticate({ ...request, password: typed })), password: typed };
  }
}

/** The peer's answer was not a cmd-chat frame; a little of it (made printable) says what it is. */
function notCmdChat(answer: string | undefined): SessionError {
  const shown =
    answer === undefined
      ? ''
      : answer
          .trim()
          .slice(0, 60)
          .replace(/[^\x20-\x7e]/g, '?');
  return new SessionError(
    'not_cmd_chat',
    `this is not a cmd-chat daemon${shown ? ` (it answered "${shown}")` : ''}: check the host and port`,
  );
}

/** What a connection tells its session. */
export interface WireEvents {
  /** A frame came (records are opened here, their frames handed over in order). */
  frame(wire: Wire, frame: ServerFrame): void;
  /** The connection ended or went silent. */
  lost(wire: Wire, error: SessionError): void;
  /** The connection's buffer drained: more may be written. */
  drain(): void;
}

/** An authenticated connection in use by the session. */
export class Wire {
  /** The keepalive on the daemon (absent without one, or with keepalive 0). */
  private readonly watch: DaemonWatch | undefined;
  /** The last error the daemon reported on this connection, and when (monotonic ms). */
  lastError: { error: SessionError; at: number } | undefined;
  /** No longer the session's: nothing more is handed over. */
  private dropped = false;

  constructor(
    readonly queue: LineQueue,
    private readonly records: RecordLayer,
    keepaliveMs: number,
    maxRecordBytes: number,
    private readonly events: WireEvents,
  ) {
    if (keepaliveMs > 0) {
      const seconds = Math.round(keepaliveMs / 100) / 10;
      this.watch = new DaemonWatch(
        keepaliveMs,
        () => this.send({ type: 'ping', t: 0 }),
        () =>
          events.lost(
            this,
            new SessionError(
              'connection_lost',
              `no sign of the daemon for ${seconds} s: the connection is lost`,
            ),
          ),
      );
    }
    if (records.binary) queue.decoder.startRecords(maxRecordBytes);
    else queue.decoder.setLimit(maxRecordBytes);
    queue.onEnd = (err) => events.lost(this, toSessionError(err));
    queue.conn.stream.on('drain', () => events.drain());
  }

  /** Starts reading records (the session has made this its current connection first). */
  start(): void {
    this.queue.stream((record) => {
      if (this.dropped) return;
      this.watch?.heard();
      let frames: ServerFrame[];
      try {
        frames = this.records.open(record);
      } catch {
        const error = 'a record from the daemon failed to open; the connection was closed';
        this.events.lost(this, new SessionError('protocol', error));
        return;
      }
      this.deliver(frames, 0);
    });
  }

  /**
   * Hands a record's frames over from `from` on, for at most SLICE_MS: a record carries a
   * whole tick of the room (hundreds of messages to open and verify in a flood), so the rest
   * waits for the next turn of the event loop, and the next record with it, while keystrokes
   * and the screen are served.
   */
  private deliver(frames: ServerFrame[], from: number): void {
    const deadline = performance.now() + SLICE_MS;
    for (let i = from; i < frames.length; i++) {
      if (this.dropped) return;
      this.events.frame(this, frames[i] as ServerFrame);
      if (i + 1 < frames.length && performance.now() >= deadline) {
        this.queue.hold();
        setImmediate(() => this.deliver(frames, i + 1));
        return;
      }
    }
    this.queue.release();
  }

  get stream(): Connection['stream'] {
    return this.queue.conn.stream;
  }

  /** Writes one frame as a record. */
  send(frame: object): void {
    this.stream.write(this.records.seal(frame));
  }

  /** Why the connection ended: `lost`, or the error the daemon reported just before it closed. */
  lostBecause(lost: SessionError): SessionError {
    const reported = this.lastError;
    const closedAfterIt =
      lost.code === 'connection_lost' &&
      lost.daemonCode === undefined &&
      reported !== undefined &&
      performance.now() - reported.at < FATAL_ERROR_WINDOW_MS;
    return closedAfterIt ? reported.error : lost;
  }

  /** Ends the connection after what was written is flushed; resolves once it is closed (2 s at most). */
  end(): Promise<void> {
    const stream = this.stream;
    const done = new Promise<void>((resolve) => {
      if (stream.destroyed) return resolve();
      stream.once('close', () => resolve());
      setTimeout(() => {
        stream.destroy();
        resolve();
      }, 2000).unref();
    });
    stream.end();
    return done;
  }

  /** Stops using the connection (and closes it when `destroy`); its keys are wiped. */
  drop(destroy: boolean): void {
    this.dropped = true;
    this.queue.onEnd = undefined;
    this.watch?.stop();
    this.records.destroy();
    if (destroy) this.stream.destroy();
  }
}
