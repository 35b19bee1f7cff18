/**
 * Starts a real SOCKS5 server (Debian's `microsocks`) on an ephemeral loopback port for the
 * SOCKS5 tests, and stops it afterwards. Without microsocks the suites are skipped with a
 * named reason (test/helpers/system-tools.ts); under CI they run and this says what is missing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { freePort } from './processes.js';
import { INSTALL_COMMAND, microsocksBinary } from './system-tools.js';

export interface Microsocks {
  port: number;
  /** `scheme://[user:pass@]127.0.0.1:port`, credentials percent-encoded. */
  url(scheme: 'socks5' | 'socks5h', credentials?: { user: string; password: string }): string;
  stop(): Promise<void>;
}

export interface MicrosocksOptions {
  user?: string;
  password?: string;
}

const BINARY = microsocksBinary;
const READY_TIMEOUT_MS = 5_000;

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function startOnce(port: number, opts: MicrosocksOptions): Promise<Microsocks | undefined> {
  const args = ['-i', '127.0.0.1', '-p', String(port)];
  if (opts.user !== undefined) args.push('-u', opts.user, '-P', opts.password ?? '');
  const child = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err) => resolve(err));
  });
  if (spawnError !== undefined) {
    if ((spawnError as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `microsocks is not installed (looked for "${BINARY}"): the SOCKS5 tests need a real SOCKS5 ` +
          `server; install it with \`${INSTALL_COMMAND}\``,
      );
    }
    throw spawnError;
  }
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return undefined; // Lost the port race; the caller retries.
    if (await accepts(port)) {
      return {
        port,
        url(scheme, credentials) {
          const auth =
            credentials === undefined
              ? ''
              : `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@`;
          return `${scheme}://${auth}127.0.0.1:${port}`;
        },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited(child);
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  await exited(child);
  throw new Error(`microsocks did not start listening on 127.0.0.1:${port}: ${stderr.trim()}`);
}

/** Starts microsocks on a free loopback port, with user/password auth if given. */
export async function startMicrosocks(opts: MicrosocksOptions = {}): Promise<Microsocks> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const started = await startOnce(await freePort(), opts);
    if (started !== undefined) return started;
  }
  throw new Error('microsocks could not bind a free loopback port after 5 attempts');
}
