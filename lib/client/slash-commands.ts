/**
 * The slash commands, one registry for the REPL and pipe mode: name, aliases, argument
 * help, description and handler. `/help` and Tab completion are generated from it.
 */
import type { ChatEvent } from './events.js';
import { type IgnoreList, MAX_IGNORED } from './ignore-list.js';
import { TRUST_MARKS } from './render.js';
import type { Scrollback } from './scrollback.js';
import type { ChatSession } from './session/session.js';

/** Shown by /status: what protects the channel and the messages, per protocol mode. */
export const CIPHER_SUITES: Record<ChatSession['mode'], string> = {
  v2: 'SRP-6a (RFC 5054 2048-bit, SHA-256) + scrypt; channel AES-256-GCM; messages Fernet (AES-128-CBC + HMAC-SHA256)',
  'legacy-room':
    'LEGACY ROOM: SRP-6a + scrypt; channel AES-256-GCM; messages Fernet keyed by HKDF of the bare password (guessable offline)',
  v1: 'ORIGINAL v1 DAEMON: SRP-6a with the bare password; NO channel encryption (names and events in clear); messages Fernet keyed by HKDF of the password (guessable offline)',
};

/** Said once at start with `connect --original-protocol`. */
export const ORIGINAL_PROTOCOL_WARNING =
  'speaking the original cmd-chat protocol (v1): nothing is sealed, names and events travel in clear, and the room key can be guessed offline from captured traffic';
/** In the REPL's prompt for as long as a room speaks the original protocol. */
export const ORIGINAL_PROTOCOL_MARK = '[v1: unsealed]';

export type BellMode = 'on' | 'off' | 'mentions';
export type NotifyMode = 'on' | 'off' | 'mentions';

/** What the user has chosen to see and hear; shared by the REPL and pipe mode. */
export interface ViewState {
  /** Members whose messages are hidden (followed across renames, not by name). */
  ignored: IgnoreList;
  bell: BellMode;
  notify: NotifyMode;
  /**
   * When a first `/wipe` in the REPL asked for confirmation (ms since the epoch). Any other
   * line typed, or a message arriving in the room, takes it back (the REPL clears it).
   */
  wipeAskedAt?: number;
}

/** A second `/wipe` right after the first, and within this time, confirms it. */
export const WIPE_CONFIRM_MS = 10_000;

/** What a command may do; the REPL and pipe mode each provide one. */
export interface CommandContext {
  readonly session: ChatSession;
  readonly view: ViewState;
  /** Human description of the daemon (address, transport). */
  readonly daemon: string;
  /** True in the REPL; commands marked `interactiveOnly` refuse otherwise. */
  readonly interactive: boolean;
  /** A local line for the user (not sent). */
  info(text: string): void;
  error(text: string): void;
  /** Clears the terminal screen (REPL only). */
  clearScreen(): void;
  /** Ends the session. */
  quit(): void;
  /** What this client has seen (REPL only), for /search and /last. */
  readonly scrollback?: Scrollback;
  /** Prints events again (REPL only), with `mark` highlighted in them. */
  showEvents?(events: ChatEvent[], mark?: string): void;
  /** The rooms this client is in (absent when it can be in one only). */
  readonly rooms?: RoomControl;
}

/** One room of the client, as /rooms lists it. */
export interface RoomSummary {
  name: string;
  current: boolean;
  /** Messages that arrived while another room was current. */
  unread: number;
  /** Of those, the ones that mention our name. */
  mentions: number;
}

/** Several rooms in one client: each its own session; one is current (input goes there). */
export interface RoomControl {
  list(): RoomSummary[];
  /** Makes a room current, by name or by its number in /rooms; false if there is none. */
  switchTo(nameOrNumber: string): boolean;
  /** Joins another room (REPL: asks its password, hidden). */
  join?(name: string): Promise<void>;
  /** Leaves a room (the current one when no name is given). */
  part?(name: string | undefined): Promise<void>;
  /** Every room's name and session, the current room first (absent: the current one only). */
  sessions?(): ReadonlyArray<{ name: string; session: ChatSession }>;
  /** The session of the room of the last private message sent or received (for /reply). */
  lastPrivate?(): ChatSession | undefined;
}

/** How many rooms one client may be in at once (Alt+1 … Alt+9, Alt+0 for the tenth). */
export const MAX_ROOMS = 10;

/** /search shows at most this many matches (the newest); /last at most this many events. */
export const MAX_SHOWN = 200;

export interface SlashCommand {
  name: string;
  aliases: string[];
  /** Argument synopsis for /help, e.g. `<name>`; empty when none. */
  args: string;
  help: string;
  interactiveOnly?: boolean;
  /** `invokedAs` is the name or alias typed, lower-case. */
  run(ctx: CommandContext, args: string, invokedAs: string): void | Promise<void>;
}

const MODES = ['on', 'off', 'mentions'] as const;

/** `/bell` and `/notify`: show or set an on|off|mentions switch of the view. */
function modeCommand(key: 'bell' | 'notify', help: string): SlashCommand {
  return {
    name: key,
    aliases: [],
    args: MODES.join('|'),
    help,
    interactiveOnly: true,
    run(ctx, args) {
      const wanted = args.trim().toLowerCase();
      if (!wanted) return ctx.info(`${key}: ${ctx.view[key]}`);
      const mode = MODES.find((m) => m === wanted);
      if (!mode) return ctx.error(`usage: /${key} ${MODES.join('|')}`);
      ctx.view[key] = mode;
      ctx.info(`${key}: ${mode}`);
    },
  };
}

export const commands: SlashCommand[] = [
  {
    name: 'help',
    aliases: ['?'],
    args: '[command]',
    help: 'list the commands, or explain one',
    run(ctx, args) {
      const wanted = args.trim().replace(/^\//, '');
      if (wanted) {
        const cmd = findCommand(wanted);
        if (!cmd) return ctx.error(`unknown command /${wanted}`);
        ctx.info(helpLine(cmd));
        return;
      }
      for (const line of helpText(ctx.interactive).split('\n')) ctx.info(line);
    },
  },
  {
    name: 'who',
    aliases: ['names'],
    args: '',
    help: 'list the members (✓ verified, ? unverified, ✗ key changed) and the safety phrase',
    async run(ctx) {
      const s = ctx.session;
      const members = s.memberList();
      const names = members.map((m) =>
        m.user_id === s.me.user_id
          ? `${m.username} (you)`
          : s.keyring
            ? `${m.username} ${TRUST_MARKS[s.trustOf(m)]}`
            : m.username,
      );
      ctx.info(`${members.length} in ${s.room}: ${names.join(', ')}`);
      const phrase = await s.safetyPhrase();
      if (phrase !== undefined)
        ctx.info(`safety phrase: ${phrase} (the same for everyone who sees the same members and keys)`);
    },
  },
  {
    name: 'me',
    aliases: [],
    args: '<action>',
    help: 'send an action line: /me waves → * alice waves',
    run(ctx, args) {
      const text = args.trim();
      if (!text) return ctx.error('usage: /me <action>');
      ctx.session.send(text, 'me');
    },
  },
  {
    name: 'nick',
    aliases: [],
    args: '<name>',
    help: 'change your name in this room',
    async run(ctx, args) {
      const name = args.trim();
      if (!name) return ctx.error('usage: /nick <name>');
      if (name === ctx.session.me.username) return ctx.info(`you are already ${name}`);
      try {
        await ctx.session.nick(name);
      } catch (err) {
        ctx.error((err as Error).message);
      }
    },
  },
  {
    name: 'wipe',
    aliases: ['wipe!'],
    args: '',
    help: "wipe the room's history on the daemon, for everyone (asks first: /wipe again next, or /wipe!)",
    run(ctx, args, invokedAs) {
      // `/wipe the cache` is a sentence, not a confirmed wipe: only the bare command erases.
      if (args.trim() !== '') return ctx.error('/wipe takes no words (it erases the room for everyone)');
      // Scripts mean it; in the REPL it erases the room for everyone, so it asks first.
      const now = Date.now();
      const asked = ctx.view.wipeAskedAt;
      const confirmed =
        !ctx.interactive || invokedAs === 'wipe!' || (asked !== undefined && now - asked <= WIPE_CONFIRM_MS);
      if (!confirmed) {
        ctx.view.wipeAskedAt = now;
        ctx.info(
          `this erases the room's history for everyone: confirm with /wipe as your next line (within ${WIPE_CONFIRM_MS / 1000} s), or /wipe!`,
        );
        return;
      }
      ctx.view.wipeAskedAt = undefined;
      ctx.session.wipeHistory();
    },
  },
  {
    name: 'status',
    aliases: [],
    args: '',
    help: 'daemon, room, cipher suite, room fingerprint and round-trip time',
    async run(ctx) {
      const s = ctx.session;
      let rtt: string;
      try {
        rtt = `${(await s.ping()).toFixed(1)} ms`;
      } catch (err) {
        rtt = (err as Error).message;
      }
      ctx.info(`daemon: ${ctx.daemon}`);
      ctx.info(`room: ${s.room} as ${s.me.username}, ${s.memberList().length} member(s)`);
      ctx.info(`cipher suite: ${CIPHER_SUITES[s.mode]}`);
      ctx.info(`room fingerprint: ${s.fingerprint} (compare it with the others out of band)`);
      ctx.info(`round-trip time: ${rtt}`);
    },
  },
  {
    name: 'msg',
    aliases: ['m'],
    args: '[#room] <name> <text>',
    help: 'a private message, end-to-end to that member only, in any of your rooms (the daemon sees who and how long)',
    run(ctx, args) {
      const match = /^\s*(\S+)\s+([\s\S]+)$/.exec(args);
      if (!match) return ctx.error('usage: /msg [#room] <name> <text>');
      let [, name, text] = match as unknown as [string, string, string];
      let rooms = roomSessions(ctx);
      // `/msg #ops frank …` names the room; a first word that is no room of ours is a name.
      const named = name.startsWith('#') ? roomByName(rooms, name) : undefined;
      if (named) {
        const rest = /^(\S+)\s+([\s\S]+)$/.exec(text);
        if (!rest) return ctx.error('usage: /msg [#room] <name> <text>');
        [, name, text] = rest as unknown as [string, string, string];
        rooms = [named];
      }
      const target = privateTarget(ctx, rooms, name, named !== undefined);
      if (target === undefined) return;
      warnUnverifiedOnce(ctx, target, name);
      // A refusal (no such member, no keys) is thrown: a script counts the line as not sent.
      target.sendPrivate(name, text);
    },
  },
  {
    name: 'reply',
    aliases: ['r'],
    args: '<text>',
    help: 'answer the last private message, whichever of your rooms it came through',
    run(ctx, args) {
      const text = args.trim();
      if (!text) return ctx.error('usage: /reply <text>');
      const session = ctx.rooms?.lastPrivate ? ctx.rooms.lastPrivate() : ctx.session;
      const target = session?.replyTarget;
      if (session === undefined || target === undefined)
        return ctx.error('no private conversation to reply to (or that member left)');
      warnUnverifiedOnce(ctx, session, target);
      session.sendPrivate(target, text);
    },
  },
  {
    name: 'whois',
    aliases: [],
    args: '<name>',
    help: "a member's key fingerprint, to compare out of band (then /verify)",
    run(ctx, args) {
      const name = args.trim();
      if (!name) return ctx.error('usage: /whois <name>');
      const found = ctx.session.whois(name);
      if (!found) return ctx.error(`no member named ${name}`);
      const who =
        found.member.user_id === ctx.session.me.user_id
          ? `${found.member.username} (you)`
          : found.member.username;
      const expected = ctx.session.keyring?.expectedFor(found.member.username);
      if (found.fingerprint === undefined) {
        ctx.info(`${who}: no key (an original client, or a card that did not check out)`);
      } else if (found.member.user_id === ctx.session.me.user_id) {
        ctx.info(`${who}: key fingerprint ${found.fingerprint}`);
      } else {
        ctx.info(
          `${who}: key fingerprint ${found.fingerprint} ${TRUST_MARKS[found.trust]} ${TRUST_WORDS[found.trust]}`,
        );
      }
      if (found.trust === 'changed' && expected !== undefined)
        ctx.error(`${found.member.username} is NOT the member you trust: expected key ${expected}`);
    },
  },
  {
    name: 'verify',
    aliases: [],
    args: '<name> <code>',
    help: 'mark a member verified for this session once its fingerprint matches what it told you',
    run(ctx, args) {
      const [name, ...rest] = args.trim().split(/\s+/);
      const code = rest.join('');
      if (!name || !code) return ctx.error('usage: /verify <name> <code>');
      const result = ctx.session.verifyMember(name, code);
      if (result === 'verified')
        return ctx.info(
          `${name} is verified: their messages show ✓ (also after a reconnect with the same key)`,
        );
      if (result === 'mismatch') return ctx.error(`the code does not match ${name}'s key: NOT verified`);
      if (result === 'no_card') return ctx.error(`${name} has no key to verify`);
      if (result === 'self') return ctx.error('that is you');
      ctx.error(`no member named ${name}`);
    },
  },
  {
    name: 'ignore',
    aliases: [],
    args: '[name]',
    help: 'hide messages from a member, whatever name they take later (no name: list who is ignored)',
    run(ctx, args) {
      const name = args.trim();
      if (!name) {
        const list = ctx.view.ignored.describe();
        ctx.info(list.length ? `ignoring: ${list.join(', ')}` : 'ignoring nobody');
        return;
      }
      const result = ctx.view.ignored.add(name);
      if (result === 'self') return ctx.error('you cannot ignore yourself');
      if (result === 'already') return ctx.info(`already ignoring ${name}`);
      if (result === 'full') return ctx.error(`you already ignore ${MAX_IGNORED} members`);
      ctx.info(
        result === 'ignored'
          ? `ignoring ${name} (under any name they take)`
          : `ignoring ${name} (not in the room now; applies if they join)`,
      );
    },
  },
  {
    name: 'unignore',
    aliases: [],
    args: '<name>',
    help: 'show messages from an ignored member again (by any name they had)',
    run(ctx, args) {
      const name = args.trim();
      if (!name) return ctx.error('usage: /unignore <name>');
      const now = ctx.view.ignored.remove(name);
      if (now === undefined) return ctx.error(`${name} was not ignored`);
      ctx.info(
        `no longer ignoring ${now}${now.toLowerCase() === name.toLowerCase() ? '' : ` (who was ${name})`}`,
      );
    },
  },
  modeCommand('bell', 'ring the terminal bell on every message, never, or on mentions of your name'),
  modeCommand('notify', 'desktop notifications while the terminal is not focused'),
  {
    name: 'search',
    aliases: ['grep'],
    args: '<text>',
    help: 'show the messages seen in this session that contain the text (case-insensitive)',
    interactiveOnly: true,
    run(ctx, args) {
      const query = args.trim();
      if (!query) return ctx.error('usage: /search <text>');
      const back = ctx.scrollback;
      if (!back || !ctx.showEvents) return;
      // Members the user ignores leave no trace: not in the matches, not in the counts.
      const visible = (ev: ChatEvent): boolean => !isIgnored(ctx.view, ev);
      const found = back.search(query).filter(visible);
      const shown = found.slice(-MAX_SHOWN);
      const seen = back.events().filter(visible).length;
      if (found.length === 0) return ctx.info(`no match for "${query}" in the last ${seen} events`);
      ctx.info(
        `-- ${found.length} match${found.length === 1 ? '' : 'es'} for "${query}" in the last ${seen} events` +
          (shown.length < found.length ? ` (the newest ${shown.length} shown)` : '') +
          ' --',
      );
      ctx.showEvents(shown, query);
    },
  },
  {
    name: 'last',
    aliases: [],
    args: '[n]',
    help: `show the last n events again (default 20, at most ${MAX_SHOWN})`,
    interactiveOnly: true,
    run(ctx, args) {
      const text = args.trim();
      const n = text === '' ? 20 : Number(text);
      if (!Number.isInteger(n) || n < 1) return ctx.error('usage: /last [n], n a whole number from 1');
      const back = ctx.scrollback;
      if (!back || !ctx.showEvents) return;
      const all = back.events().filter((ev) => !isIgnored(ctx.view, ev));
      if (all.length === 0) return ctx.info('nothing seen yet');
      const events = all.slice(-Math.min(n, MAX_SHOWN));
      ctx.info(`-- the last ${events.length} of ${all.length} events --`);
      ctx.showEvents(events);
    },
  },
  {
    name: 'join',
    aliases: [],
    args: '<room>',
    help: `join another room on the same daemon (asks its password; at most ${MAX_ROOMS} rooms)`,
    interactiveOnly: true,
    async run(ctx, args) {
      const name = args.trim();
      if (!name) return ctx.error('usage: /join <room>');
      if (!ctx.rooms?.join) return ctx.error('joining rooms is not available here');
      await ctx.rooms.join(name);
    },
  },
  {
    name: 'part',
    aliases: ['leave'],
    args: '[room]',
    help: 'leave a room (the current one by default) and stay in the others',
    interactiveOnly: true,
    async run(ctx, args) {
      if (!ctx.rooms?.part) return ctx.error('/part needs another room to stay in: /quit leaves');
      await ctx.rooms.part(args.trim() || undefined);
    },
  },
  {
    name: 'rooms',
    aliases: [],
    args: '',
    help: 'list your rooms with their numbers and unread counts',
    run(ctx) {
      const rooms = ctx.rooms?.list() ?? [{ name: ctx.session.room, current: true, unread: 0, mentions: 0 }];
      rooms.forEach((r, i) => {
        const unread =
          r.unread > 0
            ? `, ${r.unread} unread${r.mentions > 0 ? ` (${r.mentions} mentioning you)` : ''}`
            : '';
        ctx.info(`${i + 1}. #${r.name}${r.current ? ' (current)' : ''}${unread}`);
      });
    },
  },
  {
    name: 'switch',
    aliases: ['sw'],
    args: '<room|number>',
    help: 'make another of your rooms current (also Alt+number, Ctrl-N, Ctrl-P)',
    run(ctx, args) {
      const wanted = args.trim();
      if (!wanted) return ctx.error('usage: /switch <room|number>');
      if (!ctx.rooms?.switchTo(wanted)) ctx.error(`you are not in a room ${wanted} (/rooms lists yours)`);
    },
  },
  {
    name: 'clear',
    aliases: ['cls'],
    args: '',
    help: 'clear your screen (use /wipe to clear the room history)',
    interactiveOnly: true,
    run(ctx) {
      ctx.clearScreen();
    },
  },
  {
    name: 'quit',
    aliases: ['exit', 'q'],
    args: '[message]',
    help: 'leave every room and exit; a message is sent to each first',
    run(ctx, args) {
      const parting = args.trim();
      if (parting) {
        for (const { name, session } of roomSessions(ctx)) {
          try {
            session.send(parting);
          } catch (err) {
            ctx.error(`#${name}: ${(err as Error).message}`);
          }
        }
      }
      ctx.quit();
    },
  },
];

type RoomSession = { name: string; session: ChatSession };

/** The client's rooms, the current one first (pipe mode: its one room). */
function roomSessions(ctx: CommandContext): readonly RoomSession[] {
  return ctx.rooms?.sessions?.() ?? [{ name: ctx.session.room, session: ctx.session }];
}

/** One of our rooms named `#name` (exact, else case-insensitive), like /switch finds it. */
function roomByName(rooms: readonly RoomSession[], hashName: string): RoomSession | undefined {
  const bare = hashName.slice(1);
  return rooms.find((r) => r.name === bare) ?? rooms.find((r) => r.name.toLowerCase() === bare.toLowerCase());
}

/**
 * The session to send a private message to `name` through: the current room if the name is
 * there, else the one room that has it. A name in several other rooms may be several people:
 * the user names the room. Says why on the context when there is none.
 */
function privateTarget(
  ctx: CommandContext,
  rooms: readonly RoomSession[],
  name: string,
  roomNamed: boolean,
): ChatSession | undefined {
  const has = rooms.filter(({ session }) => {
    const found = session.whois(name);
    return found !== undefined && found.member.user_id !== session.me.user_id;
  });
  if (has.length === 0) {
    // The session's own error says it best (yourself, or nobody of that name).
    if (roomNamed || rooms.length === 1) return rooms[0]?.session;
    ctx.error(`no other member named ${name} in your rooms`);
    return undefined;
  }
  const current = has.find((r) => r.session === ctx.session);
  if (current) return current.session;
  if (has.length === 1) return has[0]!.session;
  const where = has.map((r) => `#${r.name}`);
  ctx.error(
    `${name} is in ${where.slice(0, -1).join(', ')} and ${where.at(-1)}: say which, e.g. /msg ${where[0]} ${name} …`,
  );
  return undefined;
}

/** What /whois says after the trust mark. */
const TRUST_WORDS = {
  verified: 'verified (pinned with --trust, or checked with /verify)',
  unverified: 'unverified: compare the fingerprint out of band, then /verify',
  changed: '',
} as const;

/** What a holder of the room key can do to a private message to an unverified member. */
export const UNVERIFIED_PRIVATE_WARNING =
  'is not verified. Anyone who holds the room key (in password mode the daemon operator does) ' +
  'could be posing as them with keys of its own: it could read this private message, change it, ' +
  'and answer in their name. Compare the safety phrase (/who) or their fingerprint (/whois) out of ' +
  'band to be sure. (Said once per member.)';

/** The first /msg to an unverified member says, once, what it risks (before it is sent). */
function warnUnverifiedOnce(ctx: CommandContext, session: ChatSession, name: string): void {
  const found = session.whois(name);
  const keyring = session.keyring;
  if (!found || !keyring || found.trust !== 'unverified' || found.fingerprint === undefined) return;
  if (keyring.firstPrivateTo(found.member.user_id))
    // A warning, not a failure: in a script with --commands a failed command changes the exit code.
    ctx.info(`warning: ${found.member.username} ${UNVERIFIED_PRIVATE_WARNING}`);
}

/** True for a message or private message from a member the user ignores. */
export function isIgnored(view: ViewState, ev: ChatEvent): boolean {
  return view.ignored.hides(ev);
}

export function findCommand(name: string): SlashCommand | undefined {
  const n = name.toLowerCase();
  return commands.find((c) => c.name === n || c.aliases.includes(n));
}

export function helpLine(cmd: SlashCommand): string {
  const names = [cmd.name, ...cmd.aliases].map((n) => `/${n}`).join(', ');
  return `${names}${cmd.args ? ` ${cmd.args}` : ''} — ${cmd.help}`;
}

/** The /help text: every command, then how to send a literal slash. */
export function helpText(interactive = true): string {
  const lines = commands.filter((c) => interactive || !c.interactiveOnly).map(helpLine);
  lines.push('//text — send a message that starts with a slash');
  return lines.join('\n');
}

export type ParsedInput =
  | { kind: 'empty' }
  | { kind: 'message'; text: string }
  | { kind: 'command'; name: string; args: string };

/** Splits a typed line into a message or a command; `//x` is the message `/x`. */
export function parseInput(line: string): ParsedInput {
  if (line.trim() === '') return { kind: 'empty' };
  if (line.startsWith('//')) return { kind: 'message', text: line.slice(1) };
  if (line.startsWith('/')) {
    const match = /^\/(\S*)\s?([\s\S]*)$/.exec(line)!;
    return { kind: 'command', name: match[1]!, args: match[2]! };
  }
  return { kind: 'message', text: line };
}

/** Command names (with slash) starting with `prefix` (which includes the slash). */
export function completeCommand(prefix: string, interactive = true): string[] {
  const p = prefix.toLowerCase();
  const names: string[] = [];
  for (const c of commands) {
    if (!interactive && c.interactiveOnly) continue;
    for (const n of [c.name, ...c.aliases]) if (`/${n}`.startsWith(p)) names.push(`/${n}`);
  }
  return names.sort();
}

/** Runs a parsed command; unknown commands say so and send nothing. */
export async function runCommand(ctx: CommandContext, name: string, args: string): Promise<void> {
  const cmd = findCommand(name);
  if (!cmd) {
    ctx.error(`unknown command /${name} — /help lists them; //${name} sends it as text`);
    return;
  }
  if (cmd.interactiveOnly && !ctx.interactive) {
    ctx.error(`/${cmd.name} works only in the interactive client`);
    return;
  }
  await cmd.run(ctx, args, name.toLowerCase());
}
