/**
 * `serve --workers N`, the primary: it runs no daemon. It starts a private nats-server (JetStream
 * on memory storage, nkey auth) when no --cluster is given, forks the workers and hands each its
 * configuration over IPC (the rooms resolved once, so every worker presents the same salts; the
 * secrets), logs one line per worker event, restarts a crashed worker or nats-server (at most
 * MAX_RESTARTS within RESTART_WINDOW_MS), turns SIGINT/SIGTERM into one shutdown of the whole
 * tree, and zeroes its secrets at exit.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { ClusterConnectOptions } from '../lib/cluster/connection.js';
import { findNatsServer, type PrivateNats, startPrivateNats } from '../lib/cluster/private-nats.js';
import { ExitCode } from '../lib/exit-codes.js';
import type { RoomCredentials } from '../lib/protocol/handshake-server.js';
import type { Logger } from '../lib/server/log.js';
import type { ClusterSettings } from './cluster-options.js';
import { type FromWorker, type ToWorker, WORKER_ENV, type WorkerConfig } from './serve-workers.js';

const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 500;
/** How long workers get to tell their members and stop before they are killed. */
const STOP_GRACE_MS = 10_000;

export interface WorkersOptions {
  count: number;
  rooms: Array<[string, RoomCredentials]>;
  decoys: { secret: Buffer; keyed: boolean };
  /** From the --cluster flags; undefined: the primary starts a private nats-server. */
  settings: ClusterSettings | undefined;
  logger: Logger;
  /** Called once, when every worker listens: the start-up line and the connect hint. */
  onListening(address: string, port: number | undefined): void;
}

/** Runs the primary; never returns (the process exits after the shutdown). */
export async function runWorkersPrimary(options: WorkersOptions): Promise<void> {
  const { count, rooms, decoys, logger } = options;
  let connect: ClusterConnectOptions;
  let secret: Buffer;
  let nats: PrivateNats | undefined;
  /** The private nats-server's only user: its seed (`SU…`, secret) and public key (`U…`). */
  let natsKey: { seed: Uint8Array; publicKey: string } | undefined;
  let binary = '';
  const fail = (message: string, code: number): never => {
    process.stderr.write(`cmd-chat: ${message}\n`);
    process.exit(code);
  };

  const startNats = async (port?: number): Promise<PrivateNats> => {
    const server = await startPrivateNats({
      binary,
      userPublicKey: natsKey!.publicKey,
      ...(port !== undefined ? { port } : {}),
      onError: (line) => logger.info(`nats-server: ${line}`),
      onExit: (code, signal) => natsExited(code, signal),
    });
    logger.info(
      `nats-server (pid ${server.pid}) ready on 127.0.0.1:${server.port}, private to the workers (nkey auth, no file)`,
    );
    return server;
  };

  if (options.settings) {
    connect = options.settings.connect;
    secret = options.settings.secret;
  } else {
    try {
      binary = findNatsServer();
    } catch (err) {
      fail((err as Error).message, ExitCode.usage);
    }
    // NATS's own nkeys library, loaded only here (tweetnacl inside): the seed array is the
    // pair's own, so zeroing it at exit clears the pair too.
    const pair = (await import('@nats-io/nkeys')).createUser();
    natsKey = { seed: pair.getSeed(), publicKey: pair.getPublicKey() };
    try {
      nats = await startNats();
    } catch (err) {
      fail((err as Error).message, ExitCode.cannotConnect);
    }
    connect = { servers: [nats!.url], name: 'cmd-chat worker', nkeySeed: natsKey.seed };
    secret = randomBytes(32);
  }

  const config: WorkerConfig = { t: 'config', rooms, decoys, connect, secret };
  const workers = new Map<number, Worker>();
  const listening = new Set<number>();
  const restarts: number[] = [];
  let everyoneListens = false;
  let stopping = false;
  let exitCode: number = ExitCode.ok;
  let killTimer: NodeJS.Timeout | undefined;

  /** One more restart within the budget (of workers and nats-server together)? */
  const mayRestart = (): boolean => {
    const now = Date.now();
    while (restarts.length > 0 && now - restarts[0]! > RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length >= MAX_RESTARTS) return false;
    restarts.push(now);
    return true;
  };
  const how = (code: number | null, signal: string | null): string =>
    signal ? `signal ${signal}` : `code ${code}`;

  const finish = async (): Promise<void> => {
    clearTimeout(killTimer);
    await nats?.stop();
    secret.fill(0);
    decoys.secret.fill(0);
    natsKey?.seed.fill(0);
    connect.nkeySeed?.fill(0);
    for (const [, c] of rooms) {
      for (const b of [c.salt, c.verifier, c.roomSalt, c.legacy?.salt, c.legacy?.verifier]) b?.fill(0);
    }
    logger.info(`stopped; ${count} worker(s)${nats ? ' and nats-server' : ''} gone, secrets zeroed`);
    process.exit(exitCode);
  };

  const shutdown = (reason: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    logger.info(`${reason}: stopping ${workers.size} worker(s)`);
    for (const w of workers.values()) sendToWorker(w, { t: 'stop', signal: reason } satisfies ToWorker);
    killTimer = setTimeout(() => {
      for (const w of workers.values()) w.process.kill('SIGKILL');
    }, STOP_GRACE_MS);
    if (workers.size === 0) void finish();
  };

  function natsExited(code: number | null, signal: string | null): void {
    if (stopping) return;
    const port = nats?.port;
    if (!mayRestart()) {
      logger.info(
        `nats-server exited (${how(code, signal)}); ${MAX_RESTARTS} restarts within a minute: giving up`,
      );
      nats = undefined;
      shutdown('nats-server failing', ExitCode.internal);
      return;
    }
    logger.info(`nats-server exited (${how(code, signal)}); restarting it on port ${port}`);
    setTimeout(() => {
      if (stopping) return;
      startNats(port).then(
        (server) => {
          nats = server;
        },
        (err: Error) => {
          logger.info(`nats-server does not start again: ${err.message}`);
          nats = undefined;
          shutdown('nats-server failing', ExitCode.internal);
        },
      );
    }, RESTART_DELAY_MS);
  }

  /**
   * Sends on a worker's IPC channel. A worker that is exiting (a start-up failure) may have a
   * channel that is closing: the send then fails later, asynchronously (EPIPE), which Node
   * would raise as an 'error' on the worker and crash the primary. With a callback the error
   * comes here instead; the worker's 'exit' handles the rest.
   */
  function sendToWorker(worker: Worker, message: unknown): void {
    if (!worker.isConnected()) return;
    try {
      worker.send(message as object, undefined, () => {});
    } catch {
      // its channel is already closed: it is on its way out
    }
  }

  cluster.setupPrimary({ serialization: 'advanced' });
  const fork = (slot: number): void => {
    const worker = cluster.fork({ [WORKER_ENV]: String(slot) });
    const pid = worker.process.pid;
    workers.set(slot, worker);
    worker.on('message', (m: FromWorker) => {
      if (m?.t === 'ready') sendToWorker(worker, config);
      if (m?.t !== 'listening') return;
      logger.info(`worker ${slot} (pid ${pid}) listening`);
      listening.add(slot);
      if (!everyoneListens && listening.size === count) {
        everyoneListens = true;
        options.onListening(m.address, m.port);
      }
    });
    worker.on('exit', (code, signal) => {
      if (workers.get(slot) !== worker) return;
      workers.delete(slot);
      listening.delete(slot);
      if (stopping) {
        if (workers.size === 0) void finish();
        return;
      }
      if (!everyoneListens) {
        // A start-up failure (the port taken, NATS refusing): the same for every worker, so
        // worker 1 alone printed why; its exit code becomes ours.
        logger.info(`worker ${slot} (pid ${pid}) exited at start (${how(code, signal)})`);
        shutdown('start-up failed', code || ExitCode.internal);
        return;
      }
      const why = how(code, signal);
      if (code === 0 && !signal) {
        // Stopped by a signal of its own (Ctrl-C reaches the whole process group, a service
        // manager may signal every process): restart it unless the primary is stopping too.
        setTimeout(() => {
          if (stopping) return;
          if (!mayRestart()) {
            logger.info(`worker ${slot} (pid ${pid}) stopped on its own, too often: giving up`);
            shutdown('workers failing', ExitCode.internal);
            return;
          }
          logger.info(`worker ${slot} (pid ${pid}) stopped on its own; starting it again`);
          fork(slot);
        }, RESTART_DELAY_MS);
        return;
      }
      if (!mayRestart()) {
        logger.info(
          `worker ${slot} (pid ${pid}) exited (${why}); ${MAX_RESTARTS} restarts within a minute: giving up`,
        );
        shutdown('workers failing', ExitCode.internal);
        return;
      }
      logger.info(`worker ${slot} (pid ${pid}) exited (${why}); restarting it`);
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, RESTART_DELAY_MS);
    });
  };
  for (let slot = 1; slot <= count; slot++) fork(slot);

  process.on('SIGINT', () => shutdown('SIGINT', ExitCode.ok));
  process.on('SIGTERM', () => shutdown('SIGTERM', ExitCode.ok));
  if (process.platform === 'win32') process.on('SIGBREAK', () => shutdown('SIGBREAK', ExitCode.ok));
}
