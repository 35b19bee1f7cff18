/**
 * The Listener of a `net.Server`: `close()` stops accepting once (idempotent) and leaves the
 * accepted connections to their owner. Shared by the TCP and Unix-socket transports.
 */
import type net from 'node:net';
import type { Listener } from './transport.js';

export function serverListener(
  server: net.Server,
  address: string,
  options: { port?: number; beforeClose?: () => Promise<void> } = {},
): Listener {
  let closed = false;
  return {
    address,
    ...(options.port !== undefined ? { port: options.port } : {}),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await options.beforeClose?.();
      // server.close() stops accepting at once; its callback would wait for every accepted
      // connection to end, which the caller manages itself.
      server.close();
    },
  };
}
