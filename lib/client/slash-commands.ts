/**
 * The slash commands, one registry for the REPL and pipe mode: name, aliases, argument
 * help, description and handler. `/help` and Tab completion are generated from it. The
 * commands about members are in slash-members.ts, the context they run in in slash-context.ts.
 */
import type { ChatEvent } from './events.js';
import { TRUST_MARKS } from './render.js';
import type { ChatSession } from './session/session.js';
import {
  type CommandContext,
  isIgnored,
  MAX_ROOMS,
  MAX_SHOWN,
  type SlashCommand,
  WIPE_CONFIRM_MS,
} from './slash-context.js';
import { memberCommands, roomSessions } from './slash-members.js';

export * from './slash-context.js';
export { UNVERIFIED_PRIVATE_WARNING } from './slash-members.js';

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
  ...memberCommands,
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
