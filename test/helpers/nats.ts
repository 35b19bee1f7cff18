/**
 * A real nats-server for the cluster tests: one per test on a free loopback port, no
 * JetStream, no store, no log or pid file, its configuration given through a pipe (never a file).
 * It can be stopped, killed and restarted on the same port, and run under strace.
 */
import { type Captured, freePort, spawnCaptured } from './processes.js';
import { waitFor } from './raw-client.js';
import { STRACE_ARGS, tracee } from './strace.js';
import { natsServerBinary, skipWithoutTools, toolsProblem } from './system-tools.js';

export { natsServerBinary } from './system-tools.js';

/** Why the cluster tests cannot run here (undefined: they can). */
export function natsProblem(): string | undefined {
  return toolsProblem('nats-server');
}

/** Skips (or, on CI, fails) a test when nats-server is missing; true when skipped. */
export function skipWithoutNats(t: { skip(m: string): void }): boolean {
  return skipWithoutTools(t, 'nats-server');
}

export interface NatsServerOptions {
  /** Lines of configuration added after `listen` (authorization, TLS, ...). */
  config?: string;
  /** Run under strace; `trace()` returns what it saw. */
  traced?: boolean;
}

export interface NatsServer {
  readonly port: number;
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  /** Everything the server (and strace, when traced) wrote to stderr, across restarts. */
  output(): string;
  /** Stops it (SIGTERM, or the given signal) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** The pid of the nats-server process itself (not strace's). */
  pid(): number | undefined;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  if (!binary) throw new Error(natsProblem());
  const port = await freePort();
  const config = `listen: 127.0.0.1:${port}\n${options.config ?? ''}\n`;
  let current: Captured | undefined;
  let earlier = '';

  const start = async (): Promise<void> => {
    // The configuration reaches nats-server through a pipe (bash process substitution, then
    // exec: the pid stays the server's or strace's): no file, and Node's stdin is a socket
    // pair that nats-server cannot open by name.
    const command = options.traced ? ['strace', ...STRACE_ARGS, binary] : [binary];
    const c = spawnCaptured(
      'bash',
      ['-c', 'exec "$@" -c <(printf "%s" "$NATS_CONFIG")', 'bash', ...command],
      {
        NATS_CONFIG: config,
      },
    );
    current = c;
    let exited = false;
    void c.exited.then(() => (exited = true));
    await waitFor(
      () => exited || /Server is ready/.test(c.stderr()),
      `nats-server to start:\n${c.stderr()}`,
      20_000,
    );
    if (exited) throw new Error(`nats-server exited:\n${c.stderr()}`);
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const c = current;
    if (!c) return;
    current = undefined;
    earlier += c.stderr();
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      // Under strace, signal the traced server itself (strace would take its tracee along).
      const target = options.traced ? (tracee(c.proc.pid!) ?? c.proc.pid!) : c.proc.pid!;
      process.kill(target, signal);
    }
    await c.exited;
  };

  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    output: () => earlier + (current?.stderr() ?? ''),
    stop,
    restart: start,
    pid: () => (current ? (options.traced ? tracee(current.proc.pid!) : current.proc.pid) : undefined),
  };
}
