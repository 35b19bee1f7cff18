/**
 * `cmd-chat serve`: the daemon's options (tables that yargs and serve-fast.ts both read), their
 * checks and help; running it is serve-run.ts, imported only when serve runs.
 */
import type { Argv, CommandModule, Options, PositionalOptions } from 'yargs';
import {
  DEFAULT_PROXY_FROM,
  type TrustedNetworks,
  trustedNetworks,
} from '../lib/transport/proxy-protocol.js';
import { type ClusterArgs, checkClusterArgs, withClusterOptions } from './cluster-options.js';
import { type Example, examplesBlock } from './examples.js';
import { limitsFromArgs, withLimitOptions } from './limit-options.js';
import { PASSWORD_ENV } from './password.js';
import { MAX_WORKERS } from './serve-workers.js';
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
export function proxyFromOf(args: ServeArgs): TrustedNetworks {
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

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve [host] [port]',
  describe: 'run the daemon (rooms, limits, TCP or Unix socket)',
  builder,
  // The daemon's modules load only when serve runs (not for connect, room-entry or a help).
  handler: async (args) => (await import('./serve-run.js')).runServe(args),
};
