/**
 * TCP transport, the default: the daemon listens on host:port (IPv4 or IPv6, port 0 picks a
 * free one) and the client connects directly. Sockets are half-open capable (each side ends
 * its own direction) and have Nagle disabled, because chat frames are small and latency
 * matters more than packet count.
 */
import net from 'node:net';
import { serverListener } from './listener.js';
import { describeSystemError, errorCode, formatHostPort, unbracket } from './net-errors.js';
import {
  type ClientTransport,
  type Connection,
  type Listener,
  type ServerTransport,
  TransportError,
} from './transport.js';

/** How long a client waits for the TCP handshake before giving up, unless told otherwise. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

export interface TcpServerOptions {
  host: string;
  /** 0 lets the system pick a free port; the listener reports the one it got. */
  port: number;
}

export interface TcpClientOptions {
  host: string;
  port: number;
  connectTimeoutMs?: number;
}

/** Throws bad_options unless `port` is a whole number in [min, 65535]. */
export function checkPort(port: number, min: number): void {
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new TransportError('bad_options', `invalid port ${String(port)} (expected ${min}-65535)`);
  }
}

/**
 * The label of a remote address: IPv4 clients reaching a dual-stack listener show up as
 * `::ffff:a.b.c.d`, and per-address limits must count them as the plain IPv4 address.
 */
export function peerLabel(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(remoteAddress);
  return mapped ? mapped[1]! : remoteAddress;
}

function listenMessage(where: string, err: unknown): string {
  switch (errorCode(err)) {
    case 'EADDRINUSE':
      return `address ${where} is already in use`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied to listen on ${where}`;
    case 'EADDRNOTAVAIL':
      return `address ${where} is not available on this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `cannot listen on ${where}: host not found`;
    default:
      return `cannot listen on ${where}: ${describeSystemError(err)}`;
  }
}

export function tcpServer(opts: TcpServerOptions): ServerTransport {
  checkPort(opts.port, 0);
  const host = unbracket(opts.host);
  const where = formatHostPort(host, opts.port);
  return {
    listen(onConnection: (conn: Connection) => void): Promise<Listener> {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
        socket.setNoDelay(true);
        onConnection({ stream: socket, peer: peerLabel(socket.remoteAddress) });
      });
      return new Promise((resolve, reject) => {
        const onListenError = (err: Error): void => {
          reject(new TransportError('listen_failed', listenMessage(where, err)));
        };
        server.once('error', onListenError);
        server.listen({ host, port: opts.port }, () => {
          server.off('error', onListenError);
          // Once listening, the only server errors are failed accepts (e.g. EMFILE under a
          // connection flood). They are transient and concern no accepted client, so they must
          // not crash the daemon; the flood itself is the daemon's limits' business.
          server.on('error', () => {});
          const bound = server.address() as net.AddressInfo;
          resolve(serverListener(server, formatHostPort(bound.address, bound.port), { port: bound.port }));
        });
      });
    },
  };
}

export function tcpClient(opts: TcpClientOptions): ClientTransport {
  checkPort(opts.port, 1);
  const host = unbracket(opts.host);
  const description = formatHostPort(host, opts.port);
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  return {
    description,
    connect(): Promise<Connection> {
      return new Promise((resolve, reject) => {
        const socket = net.connect({ host, port: opts.port, allowHalfOpen: true, noDelay: true });
        const fail = (reason: string): void => {
          clearTimeout(timer);
          socket.destroy();
          reject(new TransportError('connect_failed', `cannot connect to ${description}: ${reason}`));
        };
        const onError = (err: Error): void => fail(describeSystemError(err));
        const timer = setTimeout(() => fail(`timed out after ${timeoutMs / 1000} s`), timeoutMs);
        socket.once('error', onError);
        socket.once('connect', () => {
          clearTimeout(timer);
          socket.off('error', onError);
          socket.setNoDelay(true);
          resolve({ stream: socket, peer: peerLabel(socket.remoteAddress) });
        });
      });
    },
  };
}
