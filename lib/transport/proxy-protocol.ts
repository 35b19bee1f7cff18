/**
 * The PROXY protocol (version 1, text) in front of a server transport: each connection must
 * open with `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` from a trusted proxy, and the daemon
 * then counts its limits against SRC instead of the proxy's address. Only peers inside the
 * trusted networks (`serve --proxy-from CIDR`, loopback by default) may send one: a
 * connection from anywhere else is closed before it is read, since its header could name any
 * source and so escape every per-source limit. Tor sends this header with
 * `HiddenServiceExportCircuitID haproxy`, SRC then naming the client's circuit (see
 * admission.ts), so an onion service can limit per circuit. `PROXY UNKNOWN` names no source:
 * each such connection gets a peer of its own (`proxy-unknown#N`), which the admission counts
 * under one budget shared by all of them. Connections waiting for their header are bounded in
 * number (the oldest is dropped) and in time.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Connection, Listener, ServerTransport } from './transport.js';

/** The longest v1 header, CRLF included (the specification's bound). */
const MAX_HEADER_BYTES = 107;
/** Connections still waiting for their header, at most. */
export const MAX_AWAITING_HEADER = 256;
/** Time allowed for the header (a proxy sends it at once). */
export const HEADER_TIMEOUT_MS = 5000;

/** The peer label of a `PROXY UNKNOWN` connection starts with this (then `#N`). */
export const UNKNOWN_PEER = 'proxy-unknown';

/** The networks trusted by default: loopback (a proxy on the same host). */
export const DEFAULT_PROXY_FROM: readonly string[] = ['127.0.0.0/8', '::1/128'];

/** A parsed `--proxy-from` list. */
export interface TrustedNetworks {
  /** Whether a peer (as the TCP transport labels it: plain IPv4, or IPv6) is trusted. */
  has(peer: string): boolean;
}

/** Parses CIDR blocks (`10.0.0.0/8`, `fd00::/8`, a bare address = one host); throws on a bad one. */
export function trustedNetworks(cidrs: readonly string[]): TrustedNetworks {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefixText, extra] = cidr.trim().split('/');
    const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const max = type === 'ipv4' ? 32 : 128;
    const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1;
    if (type === undefined || extra !== undefined || prefix < 0 || prefix > max) {
      throw new Error(`not a network in CIDR notation: ${JSON.stringify(cidr)} (e.g. 10.0.0.0/8, fd00::/8)`);
    }
    list.addSubnet(address, prefix, type);
  }
  return {
    has(peer: string): boolean {
      // A Unix socket's peer is on this host, like loopback.
      if (peer === 'unix') return true;
      if (isIPv4(peer)) return list.check(peer, 'ipv4');
      const bare = peer.split('%')[0]!;
      return isIPv6(bare) && list.check(bare, 'ipv6');
    },
  };
}

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

/**
 * Wraps `inner` so that each connection's peer is the source its PROXY header names. A peer
 * outside `trusted` is closed at once (`onUntrusted` is told, for the log).
 */
export function proxyProtocolServer(
  inner: ServerTransport,
  trusted: TrustedNetworks = trustedNetworks(DEFAULT_PROXY_FROM),
  onUntrusted?: (peer: string) => void,
): ServerTransport {
  let unknowns = 0;
  return {
    listen(onConnection: (conn: Connection) => void): Promise<Listener> {
      const awaiting = new Set<() => void>();
      return inner.listen((conn) => {
        const { stream } = conn;
        if (!trusted.has(conn.peer)) {
          onUntrusted?.(conn.peer);
          stream.on('error', () => {});
          stream.destroy();
          return;
        }
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
          let source =
            end + 2 <= MAX_HEADER_BYTES
              ? parseProxyHeader(buffered.subarray(0, end).toString('latin1'))
              : undefined;
          // No source named: a peer of its own, under the budget all of them share.
          if (source === 'unknown') source = `${UNKNOWN_PEER}#${unknowns++}`;
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
