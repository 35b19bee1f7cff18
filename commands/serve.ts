/**
 * `cmd-chat serve`: parse the daemon's options, set up its rooms and limits, listen on TCP
 * or a Unix socket, and stop cleanly on SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule, Options, PositionalOptions } from 'yargs';
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
import {
  DEFAULT_PROXY_FROM,
  proxyProtocolServer,
  type TrustedNetworks,
  trustedNetworks,
} from '../lib/transport/proxy-protocol.js';
import type { ServerTransport } from '../lib/transport/transport.js';
import {
  type ClusterArgs,
  checkClusterArgs,
  clusterSettings,
  withClusterOptions,
} from './cluster-options.js';
import { type Example, examplesBlock } from './examples.js';
import { limitsFromArgs, withLimitOptions } from './limit-options.js';
import { generatePassphrase, PASSWORD_ENV, passwordFromSources, promptHidden } from './password.js';
import { connectHint, type StartupFacts, startupLogLines } from './serve-startup.js';
import {
  MAX_WORKERS,
  onPrimaryStop,
  receiveWorkerConfig,
  reportListening,
  type WorkerConfig,
  workerLogger,
  workerSlot,
} from './serve-workers.js';
import { UsageError } from './usage-error.js';

/** serve's parsed arguments (yargs' object, or the same from serve-fast.ts). */
export interface ServeArgs extends ClusterArgs {
  host: string;
  port: number;
  password?: string;
  passwordFile?: string;
  room?: string[];
  roomsFile?: string;
  openRooms: boolean;
  socket?: string;
  legacy: boolean;
  verbose: boolean;
  behindProxy: boolean;
  proxyProtocol: boolean;
  proxyFrom?: string[];
  workers?: number;
}

const ROOMS_GROUP = 'Rooms and passwords:';
const LISTEN_GROUP = 'Listening and logging:';

/** The end of `serve --help`. */
const SERVE_EXAMPLES: readonly Example[] = [
  ['cmd-chat serve', 'on 127.0.0.1:3000, room "chat" with a generated password'],
  ['cmd-chat serve 0.0.0.0 3000 --password-file pw.txt', 'on every address, password from a file'],
  ['cmd-chat serve --room team --room ops', 'two rooms; asks each password, hidden'],
  ['cmd-chat serve --rooms-file rooms.jsonl', 'rooms from `cmd-chat room-entry` lines'],
  ['cmd-chat serve --socket /run/cmd-chat.sock', 'on a Unix socket instead of TCP'],
];

/** Whether `host` only accepts connections from this machine. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The networks a PROXY header is trusted from: `--proxy-from`, or loopback. */
function proxyFromOf(args: ServeArgs): TrustedNetworks {
  return trustedNetworks(
    args.proxyFrom !== undefined && args.proxyFrom.length > 0 ? args.proxyFrom : DEFAULT_PROXY_FROM,
  );
}

/** serve's positionals, in their order on the command line. */
export const SERVE_POSITIONALS = {
  host: { type: 'string', default: '127.0.0.1', describe: 'address to listen on (0.0.0.0 or :: for all)' },
  port: { type: 'number', default: 3000, describe: 'TCP port (0 picks a free one)' },
} satisfies Record<string, PositionalOptions>;

/**
 * serve's own options after its positionals (host, port), in the order `serve --help` lists
 * them; the yargs builder and the parser of the daemon's start (serve-fast.ts) both read them.
 */
export const SERVE_OPTIONS = {
  password: {
    group: ROOMS_GROUP,
    type: 'string',
    describe: 'password of the default room "chat" (bare flag: ask on the terminal)',
  },
  'password-file': {
    group: ROOMS_GROUP,
    type: 'string',
    describe: "read the default room's password from the first line of a file",
  },
  room: {
    group: ROOMS_GROUP,
    type: 'string',
    array: true,
    describe: 'add a room: NAME=PASSWORD (repeatable); NAME alone asks for its password on the terminal',
  },
  'rooms-file': {
    group: ROOMS_GROUP,
    type: 'string',
    describe:
      'rooms from a file of verifiers made by `cmd-chat room-entry` (the daemon never sees their passwords)',
  },
  'open-rooms': {
    group: ROOMS_GROUP,
    type: 'boolean',
    default: false,
    describe:
      'let clients create rooms (connect --create); such a room vanishes after its last member leaves (see --room-grace)',
  },
  socket: {
    group: LISTEN_GROUP,
    type: 'string',
    describe: 'listen on a Unix domain socket at PATH instead of TCP',
  },
  legacy: {
    group: ROOMS_GROUP,
    type: 'boolean',
    default: false,
    describe:
      'also accept original (v1) cmd-chat clients, in room "chat": weaker, see docs/compatibility.md; rooms given with passwords become legacy rooms',
  },
  verbose: {
    group: LISTEN_GROUP,
    type: 'boolean',
    default: false,
    describe: 'log names, rooms and addresses (off by default)',
  },
  'behind-proxy': {
    group: LISTEN_GROUP,
    type: 'boolean',
    default: false,
    describe:
      'every client arrives through a proxy (Tor onion service, reverse proxy): key no limit by address (see docs/transports.md)',
  },
  'proxy-protocol': {
    group: LISTEN_GROUP,
    type: 'boolean',
    default: false,
    describe:
      "each connection opens with a PROXY v1 header from a trusted proxy (--proxy-from); limits count against its source (Tor: the client's circuit)",
  },
  'proxy-from': {
    type: 'string',
    array: true,
    describe:
      'with --proxy-protocol: a network (CIDR) the proxy connects from, repeatable (default: loopback); connections from anywhere else are closed unread',
  },
  workers: {
    group: LISTEN_GROUP,
    type: 'number',
    describe:
      'run N daemon processes on this port, sharing rooms through NATS (--cluster, or a private nats-server started on 127.0.0.1), to use N cores; see docs/cluster.md',
  },
} satisfies Record<string, Options>;

/** The checks of serve's options across flags (yargs' check, and the daemon's start): a UsageError. */
export function checkServeArgs(argv: ServeArgs): void {
  limitsFromArgs(argv);
  checkClusterArgs(argv);
  if (argv.behindProxy && argv.proxyProtocol)
    throw new UsageError(
      '--behind-proxy and --proxy-protocol exclude each other: with --proxy-protocol, limits count per source the header names',
    );
  if (argv.proxyFrom !== undefined && !argv.proxyProtocol)
    throw new UsageError('--proxy-from names where PROXY headers may come from: it needs --proxy-protocol');
  if (argv.proxyFrom !== undefined) {
    try {
      proxyFromOf(argv);
    } catch (err) {
      throw new UsageError(`--proxy-from: ${(err as Error).message}`);
    }
  }
  if (
    argv.proxyProtocol &&
    argv.proxyFrom === undefined &&
    argv.socket === undefined &&
    !isLoopbackHost(argv.host)
  )
    throw new UsageError(
      `--proxy-protocol on ${argv.host} would trust a PROXY header from anyone who can reach it (any source, no per-source limit): name your proxy's network with --proxy-from CIDR`,
    );
  if (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535)
    throw new UsageError('port must be 0-65535');
  if (argv.workers !== undefined) {
    if (!Number.isInteger(argv.workers) || argv.workers < 1 || argv.workers > MAX_WORKERS)
      throw new UsageError(`--workers takes 1 to ${MAX_WORKERS}`);
    if (argv.socket !== undefined)
      throw new UsageError('--workers shares a TCP port; with --socket run one daemon');
  }
}

function builder(y: Argv): Argv<ServeArgs> {
  const options = y
    .usage(
      '$0 serve [host] [port] [options]\n\nRun the daemon. It relays only ciphertext, keeps everything in memory and writes nothing to disk.\n' +
        'With no password from any source, it generates a passphrase and prints the command to connect.\n' +
        'A password given with --password shows in `ps` and in shell history: prefer --password-file, ' +
        `${PASSWORD_ENV}, a bare --password (hidden prompt) or --rooms-file.`,
    )
    // At the end, where a terminal shows them without scrolling back (yargs' usage text
    // would lose their indentation).
    .epilogue(examplesBlock(SERVE_EXAMPLES))
    .positional('host', SERVE_POSITIONALS.host)
    .positional('port', SERVE_POSITIONALS.port)
    .options(SERVE_OPTIONS);
  return withLimitOptions(withClusterOptions(options)).check((parsed) => {
    checkServeArgs(parsed as unknown as ServeArgs);
    return true;
  }) as unknown as Argv<ServeArgs>;
}

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

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve [host] [port]',
  describe: 'run the daemon (rooms, limits, TCP or Unix socket)',
  builder,
  handler: runServe,
};
