/**
 * The transports in one place: the interface, the four implementations, and the parsing of
 * the user-facing options (`--proxy URL`) into them.
 */
import { socks5Client } from './socks5.js';
import { tcpClient, tcpServer } from './tcp.js';
import { type ClientTransport, type ServerTransport, TransportError } from './transport.js';
import { unixClient, unixServer } from './unix.js';

export { describeSystemError, formatHostPort } from './net-errors.js';
export type { Socks5Options } from './socks5.js';
export {
  connectRequest,
  DEFAULT_SOCKS5_PORT,
  DEFAULT_SOCKS5_TIMEOUT_MS,
  describeReply,
  parseProxyUrl,
  socks5Client,
} from './socks5.js';
export type { TcpClientOptions, TcpServerOptions } from './tcp.js';
export { DEFAULT_CONNECT_TIMEOUT_MS, tcpClient, tcpServer } from './tcp.js';
export type {
  ClientTransport,
  Connection,
  Listener,
  ServerTransport,
  TransportErrorCode,
} from './transport.js';
export { TransportError } from './transport.js';
export type { UnixOptions } from './unix.js';
export { maxSocketPathBytes, pipeNameFor, unixClient, unixServer } from './unix.js';

/** Where a client should go, as given on the command line. */
export interface ClientTarget {
  host: string;
  port: number;
  /** `--socket PATH`: use the Unix socket (named pipe on Windows) instead of TCP. */
  socket?: string | undefined;
  /** `--proxy URL`: go through this SOCKS5 proxy. */
  proxy?: string | undefined;
  connectTimeoutMs?: number | undefined;
}

/** Where the daemon should listen, as given on the command line. */
export interface ServerTarget {
  host: string;
  port: number;
  socket?: string | undefined;
}

/** Picks the client transport for the options; throws TransportError bad_options on nonsense. */
export function clientTransportFor(target: ClientTarget): ClientTransport {
  if (target.socket !== undefined && target.proxy !== undefined) {
    throw new TransportError('bad_options', '--socket and --proxy cannot be used together');
  }
  if (target.socket !== undefined) {
    return unixClient({ path: target.socket, connectTimeoutMs: target.connectTimeoutMs });
  }
  if (target.proxy !== undefined) {
    return socks5Client({
      proxy: target.proxy,
      host: target.host,
      port: target.port,
      connectTimeoutMs: target.connectTimeoutMs,
    });
  }
  return tcpClient({ host: target.host, port: target.port, connectTimeoutMs: target.connectTimeoutMs });
}

/** Picks the daemon's transport: a Unix socket when one is named, TCP otherwise. */
export function serverTransportFor(target: ServerTarget): ServerTransport {
  if (target.socket !== undefined) return unixServer({ path: target.socket });
  return tcpServer({ host: target.host, port: target.port });
}
