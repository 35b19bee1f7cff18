/**
 * SOCKS5 client transport (RFC 1928 CONNECT, RFC 1929 username/password), for reaching a
 * daemon through Tor or another proxy. `socks5h://` hands the target name to the proxy, so
 * nothing is resolved locally and `.onion` names work; `socks5://` resolves the name here and
 * sends only an address. Once the proxy reports success the socket is handed over as is:
 * any bytes that arrived together with the proxy's reply stay in the stream.
 */
import net from 'node:net';
import { describeSystemError, formatHostPort, unbracket } from './net-errors.js';
import { checkPort } from './tcp.js';
import { type ClientTransport, type Connection, TransportError } from './transport.js';

/** Negotiation deadline by default; generous because Tor may build a circuit first. */
export const DEFAULT_SOCKS5_TIMEOUT_MS = 60_000;
export const DEFAULT_SOCKS5_PORT = 1080;

export interface Socks5Options {
  /** `socks5h://[user:pass@]host[:port]` (name resolved by the proxy) or `socks5://...` (resolved here). */
  proxy: URL | string;
  /** The daemon to reach through the proxy. */
  host: string;
  port: number;
  /** Deadline for reaching the proxy and completing the whole negotiation. */
  connectTimeoutMs?: number;
}

const VERSION = 0x05;
const AUTH_VERSION = 0x01;
const METHOD_NONE = 0x00;
const METHOD_USERPASS = 0x02;
const METHOD_UNACCEPTABLE = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

/** RFC 1928 §6 reply codes, and Tor's extended ones for onion services (SocksPort ExtendedErrors). */
const REPLIES: Readonly<Record<number, string>> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired (timed out)',
  7: 'command not supported',
  8: 'address type not supported',
  240: 'onion service descriptor not found',
  241: 'onion service descriptor is invalid',
  242: 'onion service introduction failed',
  243: 'onion service rendezvous failed',
  244: 'onion service requires client authorization',
  245: 'onion service client authorization is wrong',
  246: 'invalid onion address',
  247: 'onion service introduction timed out',
};

/** The human phrase for a SOCKS5 reply code, with the code itself for searching. */
export function describeReply(code: number): string {
  const label = code <= 9 ? String(code) : `0x${code.toString(16).padStart(2, '0')}`;
  return `${REPLIES[code] ?? 'unknown error'} (reply ${label})`;
}

function badUrl(reason: string): TransportError {
  return new TransportError('bad_options', `invalid proxy URL: ${reason}`);
}

function decodeCredential(raw: string, what: string): Buffer {
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    throw badUrl(`the proxy ${what} has an invalid percent-escape`);
  }
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 255) throw badUrl(`the proxy ${what} is longer than 255 bytes`);
  return bytes;
}

/**
 * Checks a proxy URL and fills in the default port. Messages never repeat the URL, which may
 * carry a password.
 */
export function parseProxyUrl(s: string): URL {
  let url: URL;
  try {
    url = new URL(s.trim());
  } catch {
    throw badUrl('expected socks5h://HOST:PORT or socks5://HOST:PORT');
  }
  if (url.protocol !== 'socks5:' && url.protocol !== 'socks5h:') {
    throw badUrl(`unsupported scheme (use socks5h:// to let the proxy resolve names, or socks5://)`);
  }
  if (url.hostname === '') throw badUrl('the proxy host is missing');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw badUrl('expected only a scheme, optional credentials, a host and a port');
  }
  if (url.port === '') url.port = String(DEFAULT_SOCKS5_PORT);
  if (Number(url.port) < 1) throw badUrl('the proxy port must be 1-65535');
  if (url.password !== '' && url.username === '') throw badUrl('a password is given without a user name');
  decodeCredential(url.username, 'user name');
  decodeCredential(url.password, 'password');
  return url;
}

interface ProxyEndpoint {
  resolveLocally: boolean;
  host: string;
  port: number;
  /** `socks5h://host:port`, without credentials: safe for messages. */
  label: string;
  credentials: { user: Buffer; password: Buffer } | undefined;
}

function endpointOf(proxy: URL | string): ProxyEndpoint {
  const url = parseProxyUrl(typeof proxy === 'string' ? proxy : proxy.href);
  const host = unbracket(url.hostname);
  const port = Number(url.port);
  const scheme = url.protocol.slice(0, -1);
  return {
    resolveLocally: scheme === 'socks5',
    host,
    port,
    label: `${scheme}://${formatHostPort(host, port)}`,
    credentials:
      url.username === ''
        ? undefined
        : {
            user: decodeCredential(url.username, 'user name'),
            password: decodeCredential(url.password, 'password'),
          },
  };
}

/** ATYP and address bytes of a CONNECT request for an IP literal. */
function addressBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from([ATYP_IPV4, ...ip.split('.').map(Number)]);
  // A zone (fe80::1%eth0) means nothing to the proxy. An embedded IPv4 tail (::ffff:1.2.3.4)
  // is rewritten as two hex groups, then "::" is expanded; net.isIP has vouched for the syntax.
  const text = ip
    .split('%')[0]!
    .replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) => {
      const hi = (Number(a) << 8) | Number(b);
      const lo = (Number(c) << 8) | Number(d);
      return `${hi.toString(16)}:${lo.toString(16)}`;
    });
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...new Array<string>(fill).fill('0'), ...right];
  const out = Buffer.alloc(17);
  out[0] = ATYP_IPV6;
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), 1 + i * 2);
  });
  return out;
}

/** The CONNECT request for `host:port`; `host` is an IP literal or a name for the proxy to resolve. */
export function connectRequest(host: string, port: number): Buffer {
  let address: Buffer;
  if (net.isIP(host) !== 0) {
    address = addressBytes(host);
  } else {
    const name = Buffer.from(host, 'utf8');
    if (name.length === 0 || name.length > 255) {
      throw new TransportError('bad_options', 'the target host name must be 1-255 bytes');
    }
    address = Buffer.concat([Buffer.from([ATYP_DOMAIN, name.length]), name]);
  }
  const portBytes = Buffer.alloc(2);
  portBytes.writeUInt16BE(port);
  return Buffer.concat([Buffer.from([VERSION, CMD_CONNECT, 0x00]), address, portBytes]);
}

/** The method-selection greeting: only the method we intend to use is offered. */
function greeting(withCredentials: boolean): Buffer {
  return Buffer.from([VERSION, 1, withCredentials ? METHOD_USERPASS : METHOD_NONE]);
}

function authRequest(user: Buffer, password: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([AUTH_VERSION, user.length]),
    user,
    Buffer.from([password.length]),
    password,
  ]);
}

export function socks5Client(opts: Socks5Options): ClientTransport {
  const proxy = endpointOf(opts.proxy);
  checkPort(opts.port, 1);
  const host = unbracket(opts.host);
  if (host === '') throw new TransportError('bad_options', 'the target host is missing');
  if (!proxy.resolveLocally && net.isIP(host) === 0 && Buffer.byteLength(host) > 255) {
    throw new TransportError('bad_options', 'the target host name is longer than 255 bytes');
  }
  const target = formatHostPort(host, opts.port);
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_SOCKS5_TIMEOUT_MS;

  async function requestFor(): Promise<Buffer> {
    if (!proxy.resolveLocally || net.isIP(host) !== 0) return connectRequest(host, opts.port);
    // socks5:// means "resolve here": the proxy only ever sees an address.
    try {
      // Loaded here: only socks5:// resolves locally, and a daemon never does.
      const { lookup } = await import('node:dns/promises');
      const { address } = await lookup(host);
      return connectRequest(address, opts.port);
    } catch (err) {
      throw new TransportError('connect_failed', `cannot resolve ${host}: ${describeSystemError(err)}`);
    }
  }

  return {
    description: `${target} via ${proxy.label}`,
    async connect(): Promise<Connection> {
      const request = await requestFor();
      return negotiate(proxy, request, target, timeoutMs);
    },
  };
}

type Stage = 'method' | 'auth' | 'reply-head' | 'reply-rest';

function negotiate(
  proxy: ProxyEndpoint,
  request: Buffer,
  target: string,
  timeoutMs: number,
): Promise<Connection> {
  const at = `the SOCKS5 proxy at ${formatHostPort(proxy.host, proxy.port)}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: proxy.host, port: proxy.port, allowHalfOpen: true, noDelay: true });
    let connected = false;
    let settled = false;
    let stage: Stage = 'method';
    let need = 2;

    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.off('connect', onConnect);
    };
    const fail = (err: TransportError): void => {
      if (settled) return;
      cleanup();
      socket.destroy();
      reject(err);
    };
    const broken = (message: string): TransportError => new TransportError('proxy_failed', message);
    const notSocks = (): TransportError => broken(`${at} did not answer as a SOCKS5 proxy`);
    const hungUp = (): TransportError => broken(`${at} closed the connection during the negotiation`);

    const onConnect = (): void => {
      connected = true;
      socket.write(greeting(proxy.credentials !== undefined));
    };
    const onError = (err: Error): void => {
      const why = describeSystemError(err);
      fail(broken(connected ? `the connection to ${at} failed: ${why}` : `${at} is not reachable: ${why}`));
    };
    // Anything still buffered was handed to onReadable already: the proxy hung up on us.
    const onEnd = (): void => fail(hungUp());
    const onTimeout = (): void => {
      const limit = `${timeoutMs / 1000} s`;
      fail(
        broken(
          connected
            ? `${at} did not complete the negotiation within ${limit}`
            : `${at} is not reachable: timed out after ${limit}`,
        ),
      );
    };

    /**
     * Handles one message of the current stage (a short one means the proxy hung up midway);
     * throws the TransportError that ends the negotiation.
     */
    const step = (bytes: Buffer): void => {
      switch (stage) {
        case 'method': {
          if (bytes.length >= 1 && bytes[0] !== VERSION) throw notSocks();
          if (bytes.length < 2) throw hungUp();
          const method = bytes[1];
          if (method === METHOD_UNACCEPTABLE) {
            throw new TransportError(
              'proxy_refused',
              proxy.credentials !== undefined
                ? `${at} does not accept user name/password authentication`
                : `${at} requires authentication; put user:password in the proxy URL`,
            );
          }
          const offered = proxy.credentials !== undefined ? METHOD_USERPASS : METHOD_NONE;
          if (method !== offered) throw broken(`${at} chose an authentication method we did not offer`);
          if (proxy.credentials !== undefined) {
            stage = 'auth';
            need = 2;
            socket.write(authRequest(proxy.credentials.user, proxy.credentials.password));
          } else {
            stage = 'reply-head';
            need = 5;
            socket.write(request);
          }
          return;
        }
        case 'auth': {
          if (bytes.length < 2) throw hungUp();
          // RFC 1929 says version 1; a few servers answer 5. The status is what matters.
          if (bytes[1] !== 0x00) {
            throw new TransportError(
              'proxy_refused',
              `proxy authentication failed: ${at} rejected the user name or password`,
            );
          }
          stage = 'reply-head';
          need = 5;
          socket.write(request);
          return;
        }
        case 'reply-head': {
          // A refusal is reported even if the proxy cut its reply short after the code.
          if (bytes.length >= 1 && bytes[0] !== VERSION) throw notSocks();
          if (bytes.length >= 2 && bytes[1] !== 0x00) {
            throw new TransportError(
              'proxy_refused',
              `the SOCKS5 proxy refused the connection to ${target}: ${describeReply(bytes[1]!)}`,
            );
          }
          if (bytes.length < 5) throw hungUp();
          const atyp = bytes[3];
          // The bound address and port follow; we do not use them but must consume them.
          if (atyp === ATYP_IPV4) need = 4 - 1 + 2;
          else if (atyp === ATYP_IPV6) need = 16 - 1 + 2;
          else if (atyp === ATYP_DOMAIN) need = bytes[4]! + 2;
          else throw notSocks();
          stage = 'reply-rest';
          return;
        }
        case 'reply-rest': {
          if (bytes.length < need) throw hungUp();
          cleanup();
          socket.setNoDelay(true);
          resolve({ stream: socket, peer: target });
          return;
        }
      }
    };

    const onReadable = (): void => {
      while (!settled) {
        // read(n) returns exactly n bytes or null, so bytes after the reply stay buffered in
        // the socket for whoever reads it next; at the end it returns whatever is left.
        const bytes = socket.read(need) as Buffer | null;
        if (bytes === null) return;
        try {
          step(bytes);
        } catch (err) {
          fail(err instanceof TransportError ? err : broken(`${at}: ${describeSystemError(err)}`));
        }
      }
    };

    const timer = setTimeout(onTimeout, timeoutMs);
    socket.on('readable', onReadable);
    socket.once('connect', onConnect);
    socket.on('error', onError);
    socket.once('end', onEnd);
  });
}
