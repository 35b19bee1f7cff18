/**
 * A private nats-server for `serve --workers` on one machine: bound to 127.0.0.1 on a free
 * port, JetStream on memory storage only with its store directory on a private tmpfs
 * (lib/cluster/ram-store.ts, removed on stop), no log or pid file, one user authenticated by
 * an nkey whose public key alone is in its configuration. The configuration reaches it through a pipe
 * (bash process substitution), never a file nor its command line; a small bash watchdog
 * stops it when our end of its stdin closes, so it never outlives the daemon, even one
 * killed with SIGKILL. It runs in its own process group: a Ctrl-C on the terminal reaches
 * the daemons, which shut down first, and not the server they still talk to.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { jetStreamConfig, PLAIN_BASH, ramStore, shellEnv } from './ram-store.js';

/** Where to look for nats-server after PATH (Debian installs it in /usr/sbin). */
const SBIN = ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin'];
/** Names the binary explicitly (for a copy outside PATH). */
export const NATS_SERVER_ENV = 'CMD_CHAT_NATS_SERVER';
const CONFIG_ENV = 'CMD_CHAT_NATS_CONFIG';
const START_TIMEOUT_MS = 15_000;
/** Bytes of the server's stderr kept for an error message. */
const TAIL_BYTES = 4096;

/**
 * The watchdog. The configuration moves from the environment into a shell variable (not
 * exported) and reaches the server through a pipe; the server starts in the background
 * (so it ignores a terminal's SIGINT) with stdin from /dev/null; a background reader of
 * the original stdin ends the server at its end of file; the shell exits with the server.
 */
const WATCHDOG = [
  `config=$${CONFIG_ENV}; unset ${CONFIG_ENV}`,
  `"$@" -c <(printf '%s' "$config") </dev/null &`,
  'server=$!',
  'exec 3<&0',
  '{ read -r _ <&3; kill -TERM "$server"; } 2>/dev/null &',
  'watcher=$!',
  'exec 3<&- 0</dev/null',
  'wait "$server"; code=$?',
  'kill "$watcher" 2>/dev/null',
  'exit "$code"',
].join('\n');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The nats-server binary: CMD_CHAT_NATS_SERVER, else the first on PATH, else the usual
 * sbin directories. Throws a one-line error saying what to do when there is none.
 */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32')
    throw new Error(
      'serve --workers without --cluster starts nats-server through bash, which Windows lacks: run nats-server yourself and give --cluster nats://127.0.0.1:4222',
    );
  const named = env[NATS_SERVER_ENV];
  if (named !== undefined && named !== '') {
    if (!executable(named)) throw new Error(`${NATS_SERVER_ENV} names no executable nats-server`);
    return named;
  }
  const dirs = [...(env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...SBIN];
  for (const dir of dirs) {
    const path = join(dir, 'nats-server');
    if (executable(path)) return path;
  }
  throw new Error(
    `serve --workers needs nats-server (Debian: apt-get install nats-server; or set ${NATS_SERVER_ENV}), or --cluster nats://HOST:PORT of a running one`,
  );
}

export interface PrivateNatsOptions {
  binary: string;
  /** The only user: its nkey's public key (U…). */
  userPublicKey: string;
  /** Port to bind (0: a free one, chosen by the server). */
  port?: number;
  /** JetStream's memory ceiling (nats-server units, e.g. `512MB`). */
  maxMemory?: string;
  /** Told of every line the server logs as an error, and of its exit. */
  onError?(line: string): void;
  onExit?(code: number | null, signal: NodeJS.Signals | null): void;
}

export interface PrivateNats {
  readonly port: number;
  readonly url: string;
  /** The server's own pid (its watchdog shell is its parent). */
  readonly pid: number | undefined;
  /** Ends the server (closes its watchdog's stdin; SIGKILL after `graceMs`) and waits. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts the server and resolves once it accepts connections. */
export function startPrivateNats(options: PrivateNatsOptions): Promise<PrivateNats> {
  // Throws on a system without /dev/shm (a one-line error: the tree does not start).
  const store = ramStore();
  const config =
    `listen: 127.0.0.1:${options.port && options.port > 0 ? options.port : -1}\n` +
    `authorization { users = [ { nkey: ${options.userPublicKey} } ] }\n` +
    jetStreamConfig(store.dir, options.maxMemory ?? '512MB');
  const [bash, ...bashOptions] = PLAIN_BASH;
  const child: ChildProcess = spawn(
    bash,
    [...bashOptions, '-c', WATCHDOG, 'nats-watchdog', ...store.wrap([options.binary])],
    {
      detached: true,
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...shellEnv(process.env), [CONFIG_ENV]: config },
    },
  );
  let tail = '';
  let ready = false;
  let port = 0;
  let serverPid: number | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      store.remove();
      resolve();
    }),
  );
  return new Promise<PrivateNats>((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(`nats-server did not start within ${START_TIMEOUT_MS / 1000} s`);
      child.stdin?.destroy();
    }, START_TIMEOUT_MS);
    const lastLine = (): string =>
      tail
        .trim()
        .split('\n')
        .slice(-1)[0]
        ?.replace(/^\[\d+\] \S+ \S+ /, '') ?? '';
    const fail = (message: string): void => {
      clearTimeout(timer);
      if (!ready) reject(new Error(message));
    };
    child.once('error', (err) => fail(`cannot start nats-server (${err.message})`));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-TAIL_BYTES);
      if (!ready) {
        const m = /Listening for client connections on [^\s]+:(\d+)/.exec(tail);
        if (m) port = Number(m[1]);
        const pid = /^\[(\d+)\]/.exec(tail);
        if (pid) serverPid = Number(pid[1]);
        if (port > 0 && /Server is ready/.test(tail)) {
          ready = true;
          clearTimeout(timer);
          resolve(handle);
        }
        return;
      }
      for (const line of chunk.split('\n')) {
        if (/\[(ERR|FTL)\]/.test(line)) options.onError?.(line.replace(/^\[\d+\] \S+ \S+ /, ''));
      }
    });
    child.stdin?.on('error', () => {});
    child.once('exit', (code, signal) => {
      if (!ready) fail(`nats-server exited at start: ${lastLine() || `code ${code}`}`);
      else options.onExit?.(code, signal);
    });
    const handle: PrivateNats = {
      get port() {
        return port;
      },
      get url() {
        return `nats://127.0.0.1:${port}`;
      },
      get pid() {
        return serverPid;
      },
      stop: async (graceMs = 5000) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.stdin?.end();
        const timer = setTimeout(() => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }, graceMs);
        await exited;
        clearTimeout(timer);
      },
    };
  });
}
