/**
 * A real nats-server for the cluster tests: one per test on a free loopback port, no log or
 * pid file, its configuration given through a pipe (never a file); by default no JetStream
 * and no store. With `jetstream`, JetStream on memory storage with its store directory on a
 * private tmpfs (lib/cluster/ram-store.ts) that is gone after stop; `startNatsCluster` runs
 * three of those as one NATS cluster. It can be stopped, killed and restarted on the same
 * port, and run under strace.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { jetStreamConfig, type RamStore, ramStore } from '../../lib/cluster/ram-store.js';
import { exitWithin } from './deadline.js';
import { type Captured, freePort, spawnCaptured } from './processes.js';
import { waitFor } from './raw-client.js';
import { STRACE_ARGS, tracee } from './strace.js';
import { natsServerBinary, skipWithoutTools, toolsProblem } from './system-tools.js';

/** How long a nats-server told to stop may take to exit before the test fails (and kills it). */
const STOP_MS = 20_000;

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
  /** JetStream on memory storage, its store directory on a private tmpfs. */
  jetstream?: boolean;
  /** The client port (default: a free one). */
  port?: number;
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
  /** The JetStream store directory (while running), when `jetstream` was asked for. */
  storeDir(): string | undefined;
  /** Whether that directory is a private tmpfs (else a directory under /dev/shm). */
  readonly privateStore: boolean;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  if (!binary) throw new Error(natsProblem());
  const port = options.port ?? (await freePort());
  let current: Captured | undefined;
  let store: RamStore | undefined;
  let privateStore = false;
  let earlier = '';

  const start = async (): Promise<void> => {
    // A fresh store each start, as a restarted machine's tmpfs would be.
    store = options.jetstream ? ramStore() : undefined;
    privateStore = store?.private ?? false;
    const config =
      `listen: 127.0.0.1:${port}\n` +
      (store ? jetStreamConfig(store.dir, '128MB') : '') +
      `${options.config ?? ''}\n`;
    // The configuration reaches nats-server through a pipe (bash process substitution, then
    // exec: the pid stays the server's or strace's): no file, and Node's stdin is a socket
    // pair that nats-server cannot open by name.
    const server = store ? store.wrap([binary]) : [binary];
    const command = options.traced ? ['strace', ...STRACE_ARGS, ...server] : server;
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
    if (exited) {
      store?.remove();
      throw new Error(`nats-server exited:\n${c.stderr()}`);
    }
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
    // Under strace, killing the tracer too lets a stuck server go (the failure says so).
    await exitWithin(c, STOP_MS, `nats-server (pid ${c.proc.pid}, ${signal})`);
    store?.remove();
    store = undefined;
  };

  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    output: () => earlier + (current?.stderr() ?? ''),
    stop,
    restart: start,
    pid: () => (current ? (options.traced ? tracee(current.proc.pid!) : current.proc.pid) : undefined),
    storeDir: () => store?.dir,
    get privateStore() {
      return privateStore;
    },
  };
}

export interface NatsCluster {
  readonly servers: NatsServer[];
  /** Every server's client URL (a client given all of them fails over between them). */
  readonly urls: string[];
  stop(): Promise<void>;
}

/**
 * A NATS cluster of `size` servers on loopback, each with JetStream on memory storage and
 * its store on a private tmpfs; resolves once a stream with `size` replicas can be placed.
 */
export async function startNatsCluster(size = 3, options: { traced?: boolean } = {}): Promise<NatsCluster> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = await Promise.all(Array.from({ length: size }, () => freePort()));
  const started = await Promise.allSettled(
    ports.map((port, i) =>
      startNatsServer({
        port,
        jetstream: true,
        traced: options.traced ?? false,
        config:
          `server_name: n${i + 1}\n` +
          `cluster { name: cc, listen: 127.0.0.1:${routes[i]}, routes: [${routes
            .filter((_, j) => j !== i)
            .map((r) => `nats://127.0.0.1:${r}`)
            .join(', ')}] }\n`,
      }),
    ),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    // The servers that did start are stopped: left running, they would outlive the test.
    await Promise.all(servers.map((s) => s.stop()));
    throw failed.reason;
  }
  const cluster: NatsCluster = {
    servers,
    urls: servers.map((s) => s.url),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
  await replicasReady(cluster.urls, size).catch(async (err: unknown) => {
    await cluster.stop();
    throw err;
  });
  return cluster;
}

/**
 * Waits until a stream with `size` replicas can be placed: the meta leader is elected and
 * has seen every peer online (before that JetStream answers "no suitable peers").
 */
async function replicasReady(urls: string[], size: number): Promise<void> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 2000 });
    const deadline = performance.now() + 30_000;
    for (;;) {
      try {
        await jsm.streams.add({
          name: 'READY',
          subjects: ['ready'],
          storage: 'memory' as never,
          num_replicas: size,
        });
        await jsm.streams.delete('READY');
        return;
      } catch (err) {
        if (performance.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await nc.close();
  }
}
