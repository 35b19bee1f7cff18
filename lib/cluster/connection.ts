/**
 * The daemon's connection to NATS: credentials (user and password, or an nkey seed), TLS,
 * endless reconnection, and log lines for losing and regaining the server. Log lines never
 * carry the server's address (a URL may hold credentials) nor any credential.
 */
import {
  type ConnectionOptions,
  connect,
  type NatsConnection,
  nkeyAuthenticator,
  type Status,
} from '@nats-io/transport-node';
import type { Logger } from '../server/log.js';

export interface ClusterTls {
  /** Certificate authorities to trust (PEM file); absent: the system's. */
  caFile?: string;
  /** Client certificate and key (PEM files), for servers that verify clients. */
  certFile?: string;
  keyFile?: string;
}

export interface ClusterConnectOptions {
  /** `nats://HOST:PORT` or `tls://HOST:PORT`, one or more. */
  servers: string[];
  user?: string;
  password?: string;
  /** An nkey seed (`SU...`), read from a file or the environment by the caller. */
  nkeySeed?: Uint8Array;
  /** Require TLS (with these files); absent: TLS only if the URL or server asks for it. */
  tls?: ClusterTls;
  /** The connection's name as the NATS server shows it (no secrets, no room names). */
  name?: string;
  /** Pause between reconnection attempts (ms). */
  reconnectWaitMs?: number;
  /** Interval of the client's pings to the server (ms): bounds how soon a dead server is noticed. */
  pingIntervalMs?: number;
}

/** Builds the NATS client options; throws a one-line error for conflicting credentials. */
export function natsOptions(options: ClusterConnectOptions): ConnectionOptions {
  if (options.servers.length === 0) throw new Error('no NATS server given');
  if (options.nkeySeed && (options.user !== undefined || options.password !== undefined)) {
    throw new Error('give either a NATS user and password or an nkey, not both');
  }
  if ((options.user === undefined) !== (options.password === undefined)) {
    throw new Error('a NATS user needs a password, and a password needs a user');
  }
  const result: ConnectionOptions = {
    servers: options.servers,
    name: options.name ?? 'cmd-chat',
    // A daemon serves its local members whatever NATS does: never give up reconnecting.
    reconnect: true,
    maxReconnectAttempts: -1,
    // The first connection fails at once (unreachable, TLS, credentials): a clear start-up error.
    waitOnFirstConnect: false,
    reconnectTimeWait: options.reconnectWaitMs ?? 1000,
    pingInterval: options.pingIntervalMs ?? 10_000,
    maxPingOut: 2,
    // A daemon hears its own publications only through its own rooms, never back from NATS.
    noEcho: true,
  };
  if (options.user !== undefined) {
    result.user = options.user;
    result.pass = options.password;
  }
  if (options.nkeySeed) result.authenticator = nkeyAuthenticator(options.nkeySeed);
  if (options.tls) {
    const tls: NonNullable<ConnectionOptions['tls']> = {};
    if (options.tls.caFile) tls.caFile = options.tls.caFile;
    if (options.tls.certFile) tls.certFile = options.tls.certFile;
    if (options.tls.keyFile) tls.keyFile = options.tls.keyFile;
    result.tls = tls;
  }
  return result;
}

/** What the bus tells its owner about the connection. */
export type LinkState = 'up' | 'down';

/**
 * Connects (rejecting with NATS's one-line reason if the first attempt fails) and, once
 * connected, reconnects without end and reports state changes: a log
 * line each, and `onState` so the owner can resynchronise when the server is back.
 */
export async function connectCluster(
  options: ClusterConnectOptions,
  log: Logger,
  onState: (state: LinkState) => void,
): Promise<NatsConnection> {
  const nc = await connect(natsOptions(options));
  log.info('cluster: connected to the NATS server');
  void watchStatus(nc, log, onState);
  return nc;
}

async function watchStatus(
  nc: NatsConnection,
  log: Logger,
  onState: (state: LinkState) => void,
): Promise<void> {
  for await (const status of nc.status()) {
    const line = describeStatus(status);
    if (line) log.info(line);
    if (status.type === 'disconnect') onState('down');
    if (status.type === 'reconnect') onState('up');
  }
}

function describeStatus(status: Status): string | undefined {
  switch (status.type) {
    case 'disconnect':
      return 'cluster: lost the NATS server; serving local members only, reconnecting';
    case 'reconnect':
      return 'cluster: NATS server back; resynchronising';
    case 'error':
      // The server's own words (e.g. an authorization violation); subjects in them are hashes.
      return `cluster: the NATS server reported: ${status.error.message.slice(0, 120)}`;
    case 'slowConsumer':
      return 'cluster: falling behind the NATS server (slow consumer)';
    case 'staleConnection':
      return 'cluster: the NATS server stopped answering pings';
    default:
      return undefined;
  }
}
