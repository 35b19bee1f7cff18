/**
 * `cmd-chat serve`, once its options are parsed and checked (serve.ts): the rooms and their
 * passwords, the registry and the daemon, listening on TCP or a Unix socket, the start-up
 * lines, signals; or the primary of `--workers`. Imported only when serve runs, so that no
 * other command loads the daemon.
 */
import { readFileSync } from 'node:fs';
import type { NatsRoomBus } from '../lib/cluster/bus.js';
import { wipe } from '../lib/crypto/secret.js';
import { warmUp } from '../lib/crypto/srp.js';
import { ExitCode } from '../lib/exit-codes.js';
import type { RoomCredentials } from '../lib/protocol/handshake-server.js';
import { DEFAULT_ROOM, normalizeRoomName } from '../lib/protocol/names.js';
import { Daemon } from '../lib/server/daemon.js';
import { keepYoungGenerationSmall } from '../lib/server/heap.js';
import { createLogger, type Logger } from '../lib/server/log.js';
import { credentialsFromPassword, parseRoomsFile, RoomRegistry } from '../lib/server/rooms.js';
import { serverTransportFor } from '../lib/transport/index.js';
import { DEFAULT_PROXY_FROM, proxyProtocolServer } from '../lib/transport/proxy-protocol.js';
import type { ServerTransport } from '../lib/transport/transport.js';
import { clusterSettings } from './cluster-options.js';
import { limitsFromArgs } from './limit-options.js';
import { generatePassphrase, passwordFromSources, promptHidden } from './password.js';
import { proxyFromOf, type ServeArgs } from './serve.js';
import { connectHint, type StartupFacts, startupLogLines } from './serve-startup.js';
import {
  onPrimaryStop,
  receiveWorkerConfig,
  reportListening,
  type WorkerConfig,
  workerLogger,
  workerSlot,
} from './serve-workers.js';

function fail(message: string, code: number = ExitCode.usage): never {
  // Workers fail alike (the port taken, NATS refusing): the first one says why, once.
  const slot = workerSlot();
  if (slot === undefined || slot === 1) process.stderr.write(`cmd-chat: ${message}\n`);
  process.exit(code);
}

/** Runs `serve` with checked arguments: resolves once the daemon listens (or the workers started). */
export async function runServe(args: ServeArgs): Promise<void> {
  // A worker of `serve --workers` gets its rooms and secrets from the primary.
  const slot = args.workers !== undefined ? workerSlot() : undefined;
  const fromPrimary =
    slot !== undefined
      ? await receiveWorkerConfig().catch((err: Error) => fail(err.message, ExitCode.internal))
      : undefined;
  if (args.workers === undefined || slot !== undefined) {
    warmUp(); // OpenSSL's SRP group, once, before the first client
    keepYoungGenerationSmall(); // a process that relays: docs/benchmarks.md (backlog RSS)
  }
  const limits = limitsFromArgs(args);
  const registry = new RoomRegistry({ ...limits, openRooms: args.openRooms });
  if (fromPrimary) {
    registry.adoptDecoys(fromPrimary.decoys);
    fromPrimary.decoys.secret.fill(0);
  }

  const addRoom = (name: string, credentials: RoomCredentials): void => {
    if (registry.size >= limits.maxRooms)
      fail(`--max-rooms ${limits.maxRooms} is smaller than the number of rooms given`);
    registry.addStatic(name, credentials);
  };
  let generated: string | undefined;
  if (fromPrimary) for (const [name, credentials] of fromPrimary.rooms) addRoom(name, credentials);
  else generated = await roomsFromArgs(args, registry, addRoom);

  const logger = createLogger(process.stderr, args.verbose);
  if (args.workers !== undefined && !fromPrimary) {
    let settings: ReturnType<typeof clusterSettings>;
    try {
      settings = clusterSettings(args);
    } catch (err) {
      fail((err as Error).message);
    }
    // Only the primary needs it (workers and single daemons never load it).
    const { runWorkersPrimary } = await import('./workers-primary.js');
    await runWorkersPrimary({
      count: args.workers,
      rooms: [...registry.all()].map((room) => [room.name, room.credentials]),
      decoys: registry.decoyState(),
      settings,
      logger,
      onListening: (where, port) =>
        announce(args, logger, startupFacts(args, limits, registry, where), generated, port),
    });
    return;
  }
  await runDaemon(args, limits, registry, generated, fromPrimary, slot, logger);
}

/**
 * Adds the rooms the flags name (a rooms file, --room, the default room's password or a
 * generated one) to the registry; returns the generated passphrase, if any.
 */
async function roomsFromArgs(
  args: ServeArgs,
  registry: RoomRegistry,
  addRoom: (name: string, credentials: RoomCredentials) => void,
): Promise<string | undefined> {
  // Rooms from the verifier file: no password involved.
  if (args.roomsFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(args.roomsFile, 'utf8');
    } catch (err) {
      fail(`cannot read the rooms file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      const file = parseRoomsFile(text);
      for (const [name, creds] of file.rooms) addRoom(name, creds);
      if (file.decoyKey !== undefined) {
        registry.setDecoyKey(file.decoyKey);
        wipe(file.decoyKey);
      }
    } catch (err) {
      fail((err as Error).message);
    }
  }

  // Rooms given as NAME=PASSWORD (or NAME alone: ask).
  for (const spec of args.room ?? []) {
    const eq = spec.indexOf('=');
    const rawName = eq === -1 ? spec : spec.slice(0, eq);
    let name: string;
    try {
      name = normalizeRoomName(rawName);
    } catch {
      fail('invalid room name in --room (1-64 characters, no control, bidi or zero-width characters)');
    }
    const password =
      eq === -1
        ? await promptHidden(`Password for room ${name}: `).catch((e: Error) => fail(e.message))
        : spec.slice(eq + 1);
    if (password === '') fail(`the password of room ${name} is empty`);
    if (registry.get(name)) fail(`room ${name} is given twice`);
    addRoom(name, await credentialsFromPassword(name, password, args.legacy));
  }

  // The default room "chat": from --password / --password-file / env / prompt, or generated.
  let generated: string | undefined;
  let defaultPassword: string | undefined;
  try {
    defaultPassword = passwordFromSources({ password: args.password, passwordFile: args.passwordFile });
  } catch (err) {
    fail((err as Error).message);
  }
  if (defaultPassword === undefined && args.password === '') {
    defaultPassword = await promptHidden('Password for room chat: ').catch((e: Error) => fail(e.message));
  }
  const otherRooms = registry.size > 0 || args.openRooms;
  if (defaultPassword === undefined && !otherRooms) {
    generated = generatePassphrase();
    defaultPassword = generated;
  }
  if (defaultPassword !== undefined) {
    if (defaultPassword === '') fail('the password is empty');
    if (registry.get(DEFAULT_ROOM)) fail(`room ${DEFAULT_ROOM} is given twice`);
    addRoom(DEFAULT_ROOM, await credentialsFromPassword(DEFAULT_ROOM, defaultPassword, args.legacy));
  }
  return generated;
}

/** Runs one daemon: alone, or as a worker of `serve --workers` (then `fromPrimary` is set). */
async function runDaemon(
  args: ServeArgs,
  limits: ReturnType<typeof limitsFromArgs>,
  registry: RoomRegistry,
  generated: string | undefined,
  fromPrimary: WorkerConfig | undefined,
  slot: number | undefined,
  baseLogger: Logger,
): Promise<void> {
  const logger = slot !== undefined ? workerLogger(baseLogger, slot) : baseLogger;
  let bus: NatsRoomBus | undefined;
  try {
    const settings = fromPrimary
      ? {
          connect: fromPrimary.connect,
          secret: fromPrimary.secret,
          heartbeatMs: Math.round(args.clusterHeartbeat * 1000),
        }
      : clusterSettings(args);
    if (settings) {
      // The NATS client is loaded only here: a daemon alone and the client never pay for it.
      const { ClusterJoinError, joinCluster } = await import('./serve-cluster.js');
      bus = await joinCluster(settings, registry, limits, logger).catch((err: Error) =>
        fail(err.message, err instanceof ClusterJoinError ? ExitCode.cannotConnect : ExitCode.usage),
      );
    }
    await registry.openAll();
  } catch (err) {
    fail((err as Error).message);
  }
  const daemon = new Daemon({ limits, registry, logger, behindProxy: args.behindProxy });
  let transport: ServerTransport;
  try {
    transport = serverTransportFor({ host: args.host, port: args.port, socket: args.socket });
    if (args.proxyProtocol) {
      transport = proxyProtocolServer(transport, proxyFromOf(args), (peer) =>
        logger.detail(`closed a connection from ${peer}: not in --proxy-from`),
      );
    }
  } catch (err) {
    fail((err as Error).message);
  }
  let where: string;
  let port: number | undefined;
  try {
    const listener = await daemon.listen(transport);
    where = listener.address;
    port = listener.port;
  } catch (err) {
    fail((err as Error).message, ExitCode.cannotConnect);
  }

  if (slot !== undefined) {
    reportListening(where, port);
  } else {
    announce(args, logger, startupFacts(args, limits, registry, where), generated, port);
  }
  if (slot === undefined || slot === 1) startupWarnings(args, registry, logger);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const s = daemon.stats();
    const errors = Object.entries(s.errors)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ');
    logger.info(
      `${signal}: shutting down, ${s.members} member(s) told; this run: ${s.handshakesOk} handshake(s) ok, ` +
        `${s.handshakesFailed} failed, ${s.refusedBusy} refused busy; errors: ${errors || 'none'}`,
    );
    daemon
      .shutdown()
      .then(async () => {
        await bus?.close();
      })
      .then(
        () => {
          fromPrimary?.connect.nkeySeed?.fill(0);
          logger.info('stopped; all keys zeroed');
          process.exit(ExitCode.ok);
        },
        () => process.exit(ExitCode.internal),
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (process.platform === 'win32') process.on('SIGBREAK', () => stop('SIGBREAK'));
  if (slot !== undefined) onPrimaryStop(stop);
}

function startupWarnings(args: ServeArgs, registry: RoomRegistry, logger: Logger): void {
  if (args.roomsFile !== undefined && !registry.stableDecoys) {
    logger.info(
      'WARNING: the rooms file has no decoy_key line: unknown room names get other salts after each restart, so ' +
        'probing names before and after a restart tells its rooms from unknown ones. Add one with ' +
        '`cmd-chat room-entry --decoy-key >> FILE`.',
    );
  }
  if (!args.legacy) return;
  logger.info(
    'WARNING: legacy mode. Original (v1) clients may join room "chat". Rooms given with a password are legacy rooms: ' +
      'their message key is one HKDF of the bare password, so captured traffic allows offline password guessing, and v1 ' +
      'members exchange frames with the daemon in plaintext. v2 clients join them only with --legacy. Rooms from --rooms-file stay v2-only.',
  );
  if (!registry.legacyRoom())
    logger.info(
      'WARNING: --legacy without a password for room "chat": original clients cannot join anything.',
    );
}

/** The start-up lines: the log's (stderr) and the operator's (stdout, rooms by name). */
function announce(
  args: ServeArgs,
  logger: Logger,
  facts: StartupFacts,
  generated: string | undefined,
  port: number | undefined,
): void {
  for (const line of startupLogLines(facts)) logger.info(line);
  process.stdout.write(connectHint(facts, { host: args.host, port, socket: args.socket, generated }));
}

/** What the start-up lines tell, but where the daemon listens. */
function startupFacts(
  args: ServeArgs,
  limits: ReturnType<typeof limitsFromArgs>,
  registry: RoomRegistry,
  where: string,
): StartupFacts {
  return {
    where,
    rooms: [...registry.all()].map((room) => ({
      name: room.name,
      legacy: room.credentials.legacy !== undefined,
    })),
    openRooms: args.openRooms,
    limits,
    behindProxy: args.behindProxy,
    proxyProtocol: args.proxyProtocol,
    proxyFrom:
      args.proxyFrom !== undefined && args.proxyFrom.length > 0 ? args.proxyFrom : DEFAULT_PROXY_FROM,
    ...(args.workers !== undefined ? { workers: args.workers } : {}),
  };
}
