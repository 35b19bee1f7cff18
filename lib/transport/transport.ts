/**
 * The transport seam: how bytes get between a client and the daemon. The protocol code
 * (handshake, channel, rooms, client session) sees only these types and never imports
 * node:net, so TCP, Unix sockets, an in-memory pair and SOCKS5 are interchangeable.
 */
import type { Duplex } from 'node:stream';

/** One established byte stream between a client and the daemon. */
export interface Connection {
  /**
   * The bytes. Back-pressure is the stream's own: `write()` returning false means wait for
   * 'drain'; `pause()`/`resume()` stop and restart reading (the daemon's flood control).
   * `end()` half-closes after flushing; `destroy()` resets.
   */
  readonly stream: Duplex;
  /**
   * A label for the peer, used only for per-address limits and `--verbose` logs; it is never
   * sent to anyone. TCP: the remote IP; Unix socket: 'unix'; in-memory: 'memory'.
   */
  readonly peer: string;
}

/** A listening endpoint of the daemon. */
export interface Listener {
  /** Human description of where it listens (for the start-up line), e.g. `127.0.0.1:3000`. */
  readonly address: string;
  /** The TCP port actually bound (useful with port 0), undefined for non-TCP transports. */
  readonly port?: number;
  /** Stops accepting; existing connections are left to the caller. Idempotent. */
  close(): Promise<void>;
}

/** The daemon's side of a transport. */
export interface ServerTransport {
  listen(onConnection: (conn: Connection) => void): Promise<Listener>;
}

/** The client's side of a transport. */
export interface ClientTransport {
  /** Human description of the target for messages, e.g. `127.0.0.1:3000 via socks5h://127.0.0.1:9050`. */
  readonly description: string;
  connect(): Promise<Connection>;
}

/** Why a transport could not connect or listen; `message` is for humans and names no secret. */
export class TransportError extends Error {
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export type TransportErrorCode =
  /** Nothing listens there, or the host is unreachable / unknown. */
  | 'connect_failed'
  /** The proxy itself could not be reached or spoke something other than SOCKS5. */
  | 'proxy_failed'
  /** The proxy refused the target or our credentials. */
  | 'proxy_refused'
  /** The daemon cannot listen there (address in use, a live socket already there, permissions). */
  | 'listen_failed'
  /** Bad transport options (malformed proxy URL, bad socket path). */
  | 'bad_options';
