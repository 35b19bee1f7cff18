/**
 * Every limit of the daemon and the client with its default, in one place. Each daemon limit
 * is declared once below (field, `serve` flag, default, unit, smallest value, description):
 * `serve`'s options, their validation and the `DaemonLimits` object are derived from these
 * declarations, and a test keeps the limit table of docs/protocol.md in step with them.
 */

/**
 * How a limit is measured. A `ms` limit is given on the command line in seconds (fractions
 * allowed, above `min`); every other one as a whole number ≥ `min`.
 */
export type LimitUnit =
  | 'bytes'
  | 'bytes/s'
  | 'characters'
  | 'count'
  | 'frames/s'
  | 'handshakes/s'
  | 'joins/s'
  | 'messages'
  | 'ms';

export interface LimitDeclaration {
  /** The `serve` flag, without dashes; absent for a limit that is fixed. */
  readonly flag?: string;
  /** Other flag names that set the same limit. */
  readonly aliases?: readonly string[];
  readonly default: number;
  readonly unit: LimitUnit;
  /** Smallest value accepted (in the flag's unit: seconds for `ms`, exclusive). */
  readonly min: number;
  /** An `ms` limit that 0 turns off (accepted besides the values above `min`). */
  readonly zeroTurnsOff?: boolean;
  /** One line for `serve --help` (and what 0 means, when 0 is special). */
  readonly describe: string;
}

/** The daemon's limits, one declaration each. Order = order in `serve --help`. */
export const daemonLimitDeclarations = {
  maxClients: { flag: 'max-clients', default: 1024, unit: 'count', min: 1, describe: 'connections in total' },
  maxClientsPerAddress: {
    flag: 'max-per-address',
    default: 32,
    unit: 'count',
    min: 1,
    describe: 'connections from one address (TCP remote IP; a Unix socket counts as one address)',
  },
  maxPendingHandshakes: {
    flag: 'max-pending',
    default: 128,
    unit: 'count',
    min: 1,
    describe: 'unfinished handshakes, all addresses together',
  },
  maxRooms: {
    flag: 'max-rooms',
    default: 256,
    unit: 'count',
    min: 1,
    describe: 'rooms at once (static rooms count; open rooms are created up to this)',
  },
  maxMembersPerRoom: {
    flag: 'max-members',
    default: 256,
    unit: 'count',
    min: 1,
    describe: 'members per room',
  },
  maxHandshakeLineBytes: {
    flag: 'max-handshake-frame',
    default: 4096,
    unit: 'bytes',
    min: 2048, // an srp_init creating a room with the longest name needs up to about 1.5 KB
    describe: 'bytes per line before authentication (excluding the newline)',
  },
  maxRecordBytes: {
    flag: 'max-frame',
    default: 96 * 1024,
    unit: 'bytes',
    min: 0,
    describe: 'bytes per record (of base64) from a client after authentication',
  },
  maxMessageChars: {
    default: 64 * 1024,
    unit: 'characters',
    min: 1,
    describe: 'characters of one message token inside a `message` frame',
  },
  maxQueueBytes: {
    flag: 'max-queue',
    default: 4 * 1024 * 1024,
    unit: 'bytes',
    min: 0,
    describe: 'bytes queued for a member that stays above this for --slow-grace is dropped',
  },
  slowReaderGraceMs: {
    flag: 'slow-grace',
    default: 3_000,
    unit: 'ms',
    min: 0,
    describe: "seconds a member's queue may stay above --max-queue before it is dropped as a slow reader",
  },
  maxQueueTotalBytes: {
    flag: 'max-queue-total',
    default: 128 * 1024 * 1024,
    unit: 'bytes',
    min: 0,
    describe:
      'bytes queued for all members together; above it the largest queues are dropped first (0 = no limit)',
  },
  handshakeTimeoutMs: {
    flag: 'handshake-timeout',
    default: 10_000,
    unit: 'ms',
    min: 0,
    describe: 'seconds to finish the handshake',
  },
  keepaliveMs: {
    flag: 'keepalive',
    default: 30_000,
    unit: 'ms',
    min: 0,
    describe:
      'seconds a member may stay silent (pinged inside the channel after half of it) before the daemon drops it as gone',
  },
  joinTimeoutMs: {
    default: 60_000,
    unit: 'ms',
    min: 0,
    describe: 'time from a completed handshake to a successful join',
  },
  historySize: {
    flag: 'history',
    default: 50,
    unit: 'messages',
    min: 0,
    describe: 'messages kept per room for late joiners (0 = none)',
  },
  historyBytes: {
    flag: 'history-bytes',
    default: 1024 * 1024,
    unit: 'characters',
    min: 0,
    describe: 'characters of ciphertext kept per room history (oldest dropped first)',
  },
  rateFramesPerSecond: {
    flag: 'rate',
    default: 250,
    unit: 'frames/s',
    min: 0,
    describe: 'frames per second per member before reads pause (0 = no limit)',
  },
  rateBurst: {
    flag: 'burst',
    default: 1000,
    unit: 'count',
    min: 1,
    describe: 'frames a member may send at once',
  },
  rateBytesPerSecond: {
    flag: 'rate-bytes',
    default: 256 * 1024,
    unit: 'bytes/s',
    min: 0,
    describe: 'bytes per second per member before reads pause (0 = no limit)',
  },
  rateBurstBytes: {
    flag: 'burst-bytes',
    default: 1024 * 1024,
    unit: 'bytes',
    min: 1,
    describe: 'bytes a member may send at once',
  },
  roomRateBytesPerSecond: {
    flag: 'room-rate-bytes',
    default: 1024 * 1024,
    unit: 'bytes/s',
    min: 0,
    describe: 'bytes per second from all members of a room together before their reads pause (0 = no limit)',
  },
  roomBurstBytes: {
    flag: 'room-burst-bytes',
    default: 2 * 1024 * 1024,
    unit: 'bytes',
    min: 1,
    describe: 'bytes all members of a room together may send at once',
  },
  joinRatePerSource: {
    flag: 'join-rate',
    default: 2,
    unit: 'joins/s',
    min: 0,
    describe:
      'joins per second from one source (IPv4 address, IPv6 /64); more wait their turn (0 = no limit)',
  },
  joinBurstPerSource: {
    flag: 'join-burst',
    default: 20,
    unit: 'count',
    min: 1,
    describe: 'joins one source may make at once',
  },
  presenceIntervalMs: {
    flag: 'presence-interval',
    default: 250,
    unit: 'ms',
    min: 0,
    describe:
      "seconds between two sends of a room's presence events (joins and leaves in between go together)",
  },
  handshakeRatePerSource: {
    flag: 'handshake-rate',
    default: 10,
    unit: 'handshakes/s',
    min: 0,
    describe:
      'handshakes per second from one source (IPv4 address, IPv6 /64); more wait their turn (0 = no limit)',
  },
  handshakeBurstPerSource: {
    flag: 'handshake-burst',
    default: 20,
    unit: 'count',
    min: 1,
    describe: 'handshakes one source may start at once',
  },
  failuresBeforeBackoff: {
    flag: 'auth-failures',
    default: 5,
    unit: 'count',
    min: 0,
    describe:
      'failed proofs from one source before each further one holds its handshakes back (1 s, doubling to 60 s)',
  },
  maxTrackedSources: {
    flag: 'max-sources',
    default: 4096,
    unit: 'count',
    min: 1,
    describe: 'sources remembered for the per-source limits (least recently seen forgotten first)',
  },
  maxRoomsPerSource: {
    flag: 'max-rooms-per-address',
    default: 8,
    unit: 'count',
    min: 0,
    describe: 'open rooms one source may hold at once (0 = no limit)',
  },
  historyTotalBytes: {
    flag: 'history-total-bytes',
    default: 64 * 1024 * 1024,
    unit: 'characters',
    min: 0,
    describe: 'characters of ciphertext in all histories together (0 = per room only)',
  },
  openRoomGraceMs: {
    flag: 'room-grace',
    default: 60_000,
    unit: 'ms',
    min: 0,
    describe: 'seconds an emptied open room keeps its name and password (its history is dropped at once)',
  },
  resumeGraceMs: {
    flag: 'resume-grace',
    default: 60_000,
    unit: 'ms',
    min: 0,
    zeroTurnsOff: true,
    describe:
      'seconds the name of a member whose connection was lost stays reserved for its reconnect (0 = not reserved)',
  },
  resumeWindow: {
    flag: 'resume-window',
    default: 6000,
    unit: 'messages',
    min: 1,
    describe: 'messages kept per room for returning members (60 s at 100/s); older ones count as lost',
  },
  resumeWindowBytes: {
    flag: 'resume-bytes',
    default: 16 * 1024 * 1024,
    unit: 'characters',
    min: 1,
    describe: 'characters of ciphertext kept per room for returning members (oldest dropped first)',
  },
  resumeWindowTotalBytes: {
    flag: 'resume-total-bytes',
    default: 256 * 1024 * 1024,
    unit: 'characters',
    min: 0,
    describe: "characters of ciphertext in all rooms' resume windows together (0 = per room only)",
  },
  maxHoldsPerSource: {
    flag: 'max-holds-per-address',
    default: 8,
    unit: 'count',
    min: 0,
    describe: 'names held for lost connections of one source at once; beyond it none (0 = no limit)',
  },
} as const satisfies Record<string, LimitDeclaration>;

export type DaemonLimitName = keyof typeof daemonLimitDeclarations;

/** The daemon's limits as numbers (see `daemonLimitDeclarations` for each one's meaning). */
export type DaemonLimits = { [K in DaemonLimitName]: number };

/** The declarations as a list, for code that walks them. */
export const daemonLimitList: ReadonlyArray<readonly [DaemonLimitName, LimitDeclaration]> = Object.entries(
  daemonLimitDeclarations,
) as Array<[DaemonLimitName, LimitDeclaration]>;

export const defaultDaemonLimits: Readonly<DaemonLimits> = Object.freeze(
  Object.fromEntries(daemonLimitList.map(([name, d]) => [name, d.default])) as DaemonLimits,
);

/** Upper bound of a member entry (`{"user_id":…,"username":…}`) in an `init` frame, in bytes. */
const MEMBER_ENTRY_BYTES = 1024;
/** Upper bound of what a history entry adds to its token (id, timestamp, ids, name), in bytes. */
const MESSAGE_ENTRY_BYTES = 1280;

/**
 * An upper bound of the bytes a member's queue must be able to hold: the `init` frame of a
 * late joiner when the room's history and member list are full (or, with no history, one
 * relayed message of the largest size), as it may sit in the socket's buffer, sealed.
 */
export function minQueueBytes(limits: DaemonLimits): number {
  const count = limits.historySize;
  const tokens =
    count === 0
      ? limits.maxMessageChars
      : Math.min(count * limits.maxMessageChars, Math.max(limits.historyBytes, limits.maxMessageChars));
  const plain =
    256 + tokens + Math.max(1, count) * MESSAGE_ENTRY_BYTES + limits.maxMembersPerRoom * MEMBER_ENTRY_BYTES;
  return Math.ceil(plain / 3) * 4 + 64; // base64 of the ciphertext, its tag and the newline
}

/** The sealed record (base64) of a `message` frame carrying a token of the largest size. */
export function minRecordBytes(limits: DaemonLimits): number {
  return Math.ceil((limits.maxMessageChars + 64 + 16) / 3) * 4;
}

/**
 * Limits that contradict each other, as one line naming the flags involved, or undefined.
 * A daemon started with such limits would fail its own members (e.g. drop every late joiner).
 */
export function contradictoryLimits(limits: DaemonLimits): string | undefined {
  const record = minRecordBytes(limits);
  if (limits.maxRecordBytes < record)
    return (
      `--max-frame ${limits.maxRecordBytes} is smaller than a record carrying the largest message ` +
      `(${record} bytes): members sending long messages would be disconnected; raise --max-frame`
    );
  const needed = minQueueBytes(limits);
  if (limits.maxQueueBytes < needed)
    return (
      `--max-queue ${limits.maxQueueBytes} is smaller than a late joiner's init with a full history ` +
      `(up to ${needed} bytes with --history ${limits.historySize}, --history-bytes ${limits.historyBytes}, ` +
      `--max-members ${limits.maxMembersPerRoom}): raise --max-queue or lower those`
    );
  // One room's burst lands in every reader's queue: a burst the queue cannot hold would drop
  // every member that reads a little late. Without a room rate the burst is not used.
  if (limits.roomRateBytesPerSecond > 0 && limits.roomBurstBytes >= limits.maxQueueBytes)
    return (
      `--room-burst-bytes ${limits.roomBurstBytes} is not below --max-queue ${limits.maxQueueBytes}: ` +
      `one room's burst would overflow every reader's queue; lower --room-burst-bytes or raise --max-queue`
    );
  if (limits.maxQueueTotalBytes > 0 && limits.maxQueueTotalBytes < needed)
    return (
      `--max-queue-total ${limits.maxQueueTotalBytes} is smaller than a late joiner's init with a full ` +
      `history (up to ${needed} bytes): raise --max-queue-total or lower --history-bytes`
    );
  return undefined;
}

export interface ClientLimits {
  /** Longest line accepted from the daemon before authentication. */
  maxHandshakeLineBytes: number;
  /**
   * Silence from the daemon (ms) after which the connection counts as lost (`connect
   * --keepalive`); the client pings inside the channel after a third of it. 0 = never.
   */
  keepaliveMs: number;
  /** Longest channel record accepted from the daemon (an init with a full history is the largest). */
  maxRecordBytes: number;
  /** Time allowed for each step of the handshake (ms). */
  stepTimeoutMs: number;
}

export const defaultClientLimits: Readonly<ClientLimits> = Object.freeze({
  maxHandshakeLineBytes: 8192,
  maxRecordBytes: 32 * 1024 * 1024,
  keepaliveMs: 30_000,
  stepTimeoutMs: 15_000,
});
