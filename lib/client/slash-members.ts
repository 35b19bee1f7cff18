/**
 * The slash commands about members: private messages across the client's rooms (/msg,
 * /reply), keys and trust (/whois, /verify), and who is hidden (/ignore, /unignore).
 */
import { MAX_IGNORED } from './ignore-list.js';
import { TRUST_MARKS } from './render.js';
import type { ChatSession } from './session/session.js';
import type { CommandContext, SlashCommand } from './slash-context.js';

export const memberCommands: SlashCommand[] = [
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
];

type RoomSession = { name: string; session: ChatSession };

/** The client's rooms, the current one first (pipe mode: its one room). */
export function roomSessions(ctx: CommandContext): readonly RoomSession[] {
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
