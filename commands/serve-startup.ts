/**
 * What `serve` says once it listens, in a few short lines. The log (stderr) says where, how
 * many rooms and which limits differ from their defaults: it names no room, like every
 * default log line. The operator's console (stdout) names the rooms and gives the command to
 * connect to each (and the generated passphrase, the one secret ever printed, once).
 */
import { type DaemonLimits, daemonLimitList } from '../lib/protocol/limits.js';
import { DEFAULT_ROOM } from '../lib/protocol/names.js';

/** Rooms given a connect command each; more are summed up in one line. */
export const MAX_ROOM_COMMANDS = 5;
/** The list of room names stops before this many characters (a rooms file may hold many). */
const ROOM_LIST_CHARS = 64;

export interface StartupFacts {
  /** Where the daemon listens, as the transport names it. */
  where: string;
  /** The static rooms, in the order given; `legacy` for a room original clients may join. */
  rooms: ReadonlyArray<{ name: string; legacy: boolean }>;
  openRooms: boolean;
  limits: DaemonLimits;
  behindProxy: boolean;
  proxyProtocol: boolean;
  /** The networks PROXY headers are trusted from (`--proxy-from`, or loopback). */
  proxyFrom?: readonly string[];
  /** `serve --workers N`. */
  workers?: number;
}

/** Shell-quotes a word for a printed command. */
export function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** The limits set to other than their defaults, as the flags that set them. */
function changedLimits(limits: DaemonLimits): string[] {
  const changed: string[] = [];
  for (const [name, d] of daemonLimitList) {
    if (d.flag === undefined || limits[name] === d.default) continue;
    changed.push(`--${d.flag} ${d.unit === 'ms' ? limits[name] / 1000 : limits[name]}`);
  }
  return changed;
}

/** The log's start-up lines: where, how many rooms (never their names), limits, proxies. */
export function startupLogLines(f: StartupFacts): string[] {
  const n = f.rooms.length;
  const rooms = `${n} room${n === 1 ? '' : 's'}${f.openRooms ? ' (clients may create more)' : ''}`;
  const workers = f.workers !== undefined ? `; ${f.workers} worker${f.workers === 1 ? '' : 's'}` : '';
  const changed = changedLimits(f.limits);
  const lines = [
    `listening on ${f.where}; ${rooms}${workers}`,
    `limits: ${changed.length > 0 ? changed.join(' ') : 'the defaults'} (serve --help lists them)`,
  ];
  if (f.proxyProtocol)
    lines.push(`PROXY protocol from ${(f.proxyFrom ?? []).join(', ')}: limits count per source named`);
  if (f.behindProxy) lines.push('behind a proxy: no limit keyed by address');
  return lines;
}

/** Room names, comma-separated, cut short with a count when there are many. */
function roomList(names: readonly string[]): string {
  let text = '';
  for (const [i, name] of names.entries()) {
    const next = i === 0 ? name : `${text}, ${name}`;
    if (i > 0 && next.length > ROOM_LIST_CHARS) return `${text}, … (${names.length} in all)`;
    text = next;
  }
  return text;
}

export interface HintTarget {
  /** The host as given to `serve` (0.0.0.0 and :: become THIS_HOST). */
  host: string;
  port: number | undefined;
  socket: string | undefined;
  /** The passphrase generated for room "chat", when none was given. */
  generated: string | undefined;
}

/**
 * The operator's lines on stdout: the generated passphrase (if any), the rooms by name and
 * the command to connect to each (without a password: it would land in shell history).
 */
export function connectHint(f: StartupFacts, t: HintTarget): string {
  const address =
    t.socket !== undefined
      ? `--socket ${quote(t.socket)}`
      : `${quote(t.host === '0.0.0.0' || t.host === '::' ? 'THIS_HOST' : t.host)} ${t.port}`;
  const command = (room: string | undefined, legacy: boolean): string =>
    `  cmd-chat connect ${address} YOUR_NAME${room === undefined || room === DEFAULT_ROOM ? '' : ` --room ${quote(room)}`}${legacy ? ' --legacy' : ''}`;
  const lines: string[] = [];
  if (t.generated !== undefined)
    lines.push(`Room "${DEFAULT_ROOM}" password (generated, shown once): ${t.generated}`);
  else if (f.rooms.length > 0) lines.push(`Rooms: ${roomList(f.rooms.map((r) => r.name))}`);
  const shown = f.rooms.slice(0, MAX_ROOM_COMMANDS);
  if (shown.length > 0) {
    lines.push(`Connect with (it asks for the password${shown.length > 1 ? ' of each room' : ''}):`);
    for (const room of shown) lines.push(command(room.name, room.legacy));
  }
  const more = f.rooms.length - shown.length;
  if (more > 0) lines.push(`  (and ${more} more room${more === 1 ? '' : 's'}: --room NAME)`);
  if (f.openRooms) {
    lines.push('A room of your own (the daemon lets clients create rooms):');
    lines.push(`${command('NEW_ROOM', false)} --create`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
