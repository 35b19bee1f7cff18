/**
 * Unix domain socket transport (`--socket PATH`): the daemon is reachable only through a file
 * whose permissions decide who may connect, and no TCP port is opened at all.
 *
 * Claiming the path. The socket is first bound under a random sibling name, restricted to
 * 0600, and then hard-linked to PATH; link() fails if PATH exists, so there is no window in
 * which PATH exists with looser permissions and no race between "is it free?" and "take it".
 * If PATH exists: a live socket (a probe connection is accepted) is left alone and listening
 * fails; a stale socket (the probe is refused) is removed and replaced; anything that is not
 * a socket is never touched. Binding under the sibling name also keeps libuv's own
 * unconditional unlink-on-close away from PATH: on close() we remove PATH ourselves, and only
 * if it is still the very socket we linked there (same device and inode).
 *
 * Windows has no socket files: PATH is mapped to a named pipe (see pipeNameFor). That branch
 * is untested here.
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, link, lstat, stat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { serverListener } from './listener.js';
import { describeSystemError, errorCode } from './net-errors.js';
import {
  type ClientTransport,
  type Connection,
  type Listener,
  type ServerTransport,
  TransportError,
} from './transport.js';

export interface UnixOptions {
  /** File path of the socket; on Windows, a named-pipe name is derived from it. */
  path: string;
  /** Client only: give up connecting after this long. */
  connectTimeoutMs?: number;
}

/** How long a probe of an existing socket may take before we assume someone is there. */
const PROBE_TIMEOUT_MS = 2_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Attempts at claiming PATH when it keeps changing under us. */
const CLAIM_ATTEMPTS = 3;

/** The longest socket path bind() accepts, in bytes (sun_path minus its terminating NUL). */
export function maxSocketPathBytes(platform: NodeJS.Platform = process.platform): number {
  return platform === 'linux' || platform === 'android' ? 107 : 103;
}

/**
 * The named pipe standing for a socket path on Windows: `\\.\pipe\` followed by the path with
 * drive colon dropped and separators unified, so daemon and client derive the same name from
 * the same `--socket` value. A value that already names a pipe is used as is.
 */
export function pipeNameFor(path: string): string {
  if (/^\\\\[.?]\\pipe\\/i.test(path)) return path;
  const tail = path
    .replace(/^[A-Za-z]:/, '')
    .replace(/[\\/]+/g, '\\')
    .replace(/^\\+/, '');
  return `\\\\.\\pipe\\${tail}`;
}

function checkPath(path: string, platform: NodeJS.Platform): void {
  if (path.length === 0 || path.includes('\0')) {
    throw new TransportError('bad_options', 'the socket path must be a non-empty path');
  }
  if (platform === 'win32') return;
  const bytes = Buffer.byteLength(path);
  const max = maxSocketPathBytes(platform);
  if (bytes > max) {
    throw new TransportError(
      'bad_options',
      `the socket path is too long (${bytes} bytes; this system allows ${max}): ${path}`,
    );
  }
}

/** A sibling of `path` with a random name, or undefined if such a name would be too long. */
function siblingName(path: string, platform: NodeJS.Platform): string | undefined {
  const candidate = join(dirname(path), `.${randomBytes(4).toString('hex')}`);
  return Buffer.byteLength(candidate) <= maxSocketPathBytes(platform) ? candidate : undefined;
}

type ProbeResult = 'live' | 'stale' | 'gone' | { unknown: unknown };

/** Connects to an existing socket file to learn whether a daemon still answers there. */
function probe(path: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // A listener with a full backlog may leave us hanging; that is still somebody's socket.
    const timer = setTimeout(() => done('live'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('live'));
    socket.once('error', (err) => {
      const code = errorCode(err);
      done(code === 'ECONNREFUSED' ? 'stale' : code === 'ENOENT' ? 'gone' : { unknown: err });
    });
  });
}

function listenOn(server: net.Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ path }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function bindFailure(path: string, err: unknown): Promise<TransportError> {
  const where = dirname(path);
  const code = errorCode(err);
  // Some kernels (gVisor) answer EACCES for a missing directory, so look before blaming rights.
  if (code === 'ENOENT' || code === 'EACCES') {
    const exists = await stat(where).then(
      () => true,
      () => false,
    );
    if (!exists) {
      return new TransportError('listen_failed', `cannot create ${path}: directory ${where} does not exist`);
    }
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new TransportError('listen_failed', `permission denied to create a socket in ${where}`);
  }
  return new TransportError('listen_failed', `cannot listen on ${path}: ${describeSystemError(err)}`);
}

/**
 * Makes PATH ours with `attempt` (which fails with EEXIST or EADDRINUSE if PATH exists),
 * removing a stale socket in the way but never a live one or a non-socket.
 */
async function claim(path: string, attempt: () => Promise<void>): Promise<void> {
  for (let i = 0; i < CLAIM_ATTEMPTS; i++) {
    try {
      await attempt();
      return;
    } catch (err) {
      const code = errorCode(err);
      if (code !== 'EEXIST' && code !== 'EADDRINUSE') throw await bindFailure(path, err);
    }
    let before: Stats;
    try {
      before = await lstat(path);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') continue;
      throw await bindFailure(path, err);
    }
    if (!before.isSocket()) {
      throw new TransportError('listen_failed', `${path} exists and is not a socket; it was left untouched`);
    }
    const state = await probe(path);
    if (state === 'live') {
      throw new TransportError('listen_failed', `another daemon is listening on ${path}`);
    }
    if (state === 'gone') continue;
    if (state !== 'stale') {
      throw new TransportError(
        'listen_failed',
        `${path} exists and cannot be probed: ${describeSystemError(state.unknown)}`,
      );
    }
    // Remove the stale socket only if it is still the one we probed.
    try {
      const now = await lstat(path);
      if (now.ino === before.ino && now.dev === before.dev) await unlink(path);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw await bindFailure(path, err);
    }
  }
  throw new TransportError('listen_failed', `cannot claim ${path}: it keeps being recreated`);
}

async function ignoreMissing(op: Promise<void>): Promise<void> {
  try {
    await op;
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

async function listenPosix(server: net.Server, path: string, platform: NodeJS.Platform): Promise<Listener> {
  const temp = siblingName(path, platform);
  if (temp !== undefined) {
    try {
      await listenOn(server, temp);
    } catch (err) {
      throw await bindFailure(path, err);
    }
    try {
      await chmod(temp, 0o600);
      await claim(path, () => link(temp, path));
    } catch (err) {
      server.close();
      throw err instanceof TransportError ? err : await bindFailure(path, err);
    } finally {
      await ignoreMissing(unlink(temp)).catch(() => {});
    }
  } else {
    // PATH is within a few bytes of the limit, so no sibling name fits: bind PATH directly.
    // Its permissions are then tightened just after bind, and libuv will unlink PATH itself
    // on close even if it is no longer ours (a documented corner case).
    await claim(path, () => listenOn(server, path));
    try {
      await chmod(path, 0o600);
    } catch (err) {
      server.close();
      throw await bindFailure(path, err);
    }
  }
  const ours = await lstat(path);
  return serverListener(server, path, {
    beforeClose: async () => {
      try {
        const now = await lstat(path);
        if (now.isSocket() && now.ino === ours.ino && now.dev === ours.dev) await unlink(path);
      } catch {
        // Already gone, or no longer ours to judge: leave it.
      }
    },
  });
}

async function listenPipe(server: net.Server, path: string): Promise<Listener> {
  const pipe = pipeNameFor(path);
  try {
    await listenOn(server, pipe);
  } catch (err) {
    if (errorCode(err) === 'EADDRINUSE') {
      throw new TransportError('listen_failed', `another daemon is listening on ${path}`);
    }
    throw new TransportError('listen_failed', `cannot listen on ${pipe}: ${describeSystemError(err)}`);
  }
  return serverListener(server, pipe);
}

export function unixServer(opts: UnixOptions): ServerTransport {
  const platform = process.platform;
  checkPath(opts.path, platform);
  return {
    async listen(onConnection: (conn: Connection) => void): Promise<Listener> {
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        onConnection({ stream: socket, peer: 'unix' });
      });
      const listener =
        platform === 'win32'
          ? await listenPipe(server, opts.path)
          : await listenPosix(server, opts.path, platform);
      // Accept errors (EMFILE under a flood) are transient and must not crash the daemon.
      server.on('error', () => {});
      return listener;
    },
  };
}

function connectMessage(path: string, err: unknown): string {
  switch (errorCode(err)) {
    case 'ENOENT':
      return `cannot connect to ${path}: no such socket (is the daemon running?)`;
    case 'ECONNREFUSED':
      return `cannot connect to ${path}: connection refused (no daemon is listening there)`;
    default:
      return `cannot connect to ${path}: ${describeSystemError(err)}`;
  }
}

export function unixClient(opts: UnixOptions): ClientTransport {
  const platform = process.platform;
  checkPath(opts.path, platform);
  const target = platform === 'win32' ? pipeNameFor(opts.path) : opts.path;
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  return {
    description: opts.path,
    connect(): Promise<Connection> {
      return new Promise((resolve, reject) => {
        const socket = net.connect({ path: target, allowHalfOpen: true });
        const fail = (message: string): void => {
          clearTimeout(timer);
          socket.destroy();
          reject(new TransportError('connect_failed', message));
        };
        const onError = (err: Error): void => fail(connectMessage(opts.path, err));
        const timer = setTimeout(
          () => fail(`cannot connect to ${opts.path}: timed out after ${timeoutMs / 1000} s`),
          timeoutMs,
        );
        socket.once('error', onError);
        socket.once('connect', () => {
          clearTimeout(timer);
          socket.off('error', onError);
          resolve({ stream: socket, peer: 'unix' });
        });
      });
    },
  };
}
