/**
 * The PROXY protocol (version 1, text) in front of a server transport: each connection must
 * open with `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` from a trusted proxy, and the daemon
 * then counts its limits against SRC instead of the proxy's address. Tor sends this header
 * with `HiddenServiceExportCircuitID haproxy`, SRC then naming the client's circuit (see
 * admission.ts), so an onion service can limit per circuit. Connections waiting for their
 * header are bounded in number (the oldest is dropped) and in time.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Connection, Listener, ServerTransport } from './transport.js';

/** The longest v1 header, CRLF included (the specification's bound). */
const MAX_HEADER_BYTES = 107;
/** Connections still waiting for their header, at most. */
export const MAX_AWAITING_HEADER = 256;
/** Time allowed for the header (a proxy sends it at once). */
export const HEADER_TIMEOUT_MS = 5000;

/** The source address of a v1 header line (without CRLF), or undefined if it is not valid. */
export function parseProxyHeader(line: string): string | undefined {
  const parts = line.split(' ');
  if (parts[0] !== 'PROXY') return undefined;
  if (parts[1] === 'UNKNOWN') return 'unknown';
  if (parts.length !== 6) return undefined;
  const [, family, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const valid = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : undefined;
  if (valid === undefined || !valid(src) || !valid(dst)) return undefined;
  const port = (p: string): boolean => /^\d{1,5}$/.test(p) && Number(p) <= 65535;
  if (!port(sport) || !port(dport)) return undefined;
  return src;
}

/** Wraps `inner` so that each connection's peer is the source its PROXY header names. */
export function proxyProtocolServer(inner: ServerTransport): ServerTransport {
  return {
    listen(onConnection: (conn: Connection) => void): Promise<Listener> {
      const awaiting = new Set<() => void>();
      return inner.listen((conn) => {
        const { stream } = conn;
        let buffered = Buffer.alloc(0);
        let done = false;
        const finish = (): void => {
          done = true;
          awaiting.delete(drop);
          clearTimeout(timer);
          stream.off('data', onData);
          stream.off('close', drop);
        };
        const drop = (): void => {
          if (done) return;
          finish();
          stream.destroy();
        };
        const onData = (chunk: Buffer): void => {
          buffered = Buffer.concat([buffered, chunk]);
          const end = buffered.indexOf('\r\n');
          if (end === -1) {
            if (buffered.length >= MAX_HEADER_BYTES) drop();
            return;
          }
          const source =
            end + 2 <= MAX_HEADER_BYTES
              ? parseProxyHeader(buffered.subarray(0, end).toString('latin1'))
              : undefined;
          if (source === undefined) {
            drop();
            return;
          }
          finish();
          // Paused while the daemon attaches its reader, so that nothing after the header is lost.
          stream.pause();
          const rest = buffered.subarray(end + 2);
          if (rest.length > 0) stream.unshift(rest);
          onConnection({ stream, peer: source });
          stream.resume();
        };
        // Bounded: the oldest connection still waiting for its header makes way.
        if (awaiting.size >= MAX_AWAITING_HEADER) awaiting.values().next().value?.();
        awaiting.add(drop);
        const timer = setTimeout(drop, HEADER_TIMEOUT_MS);
        timer.unref();
        stream.on('data', onData);
        stream.on('close', drop);
        stream.on('error', () => {});
      });
    },
  };
}
