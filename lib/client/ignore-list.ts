/**
 * The members a user hides, followed by identity, not by name: the daemon's user_id and the
 * fingerprint of the member's keys (from its card). A rename does not escape it and a newcomer
 * taking an ignored member's old name is not hidden. A name not in the room waits for the
 * first member who joins under (or renames to) it, then follows that member.
 */
import type { ChatEvent } from './events.js';
import type { ChatSession } from './session/session.js';

/** Bound on the list (a user types each entry; this only stops a runaway script). */
export const MAX_IGNORED = 1000;
/** Earlier names kept per ignored member, for /unignore (a renaming flood drops the oldest). */
export const MAX_EARLIER_NAMES = 16;

interface IgnoredMember {
  /** Undefined while waiting for a member to take `name`. */
  userId?: string;
  fingerprint?: string;
  /** The name last seen for the member (or the name waited for). */
  name: string;
  /** The names it had before, newest last: /unignore finds it by any of them. */
  earlier: string[];
}

export type IgnoreResult = 'ignored' | 'pending' | 'already' | 'self' | 'full';

export class IgnoreList {
  private readonly entries: IgnoredMember[] = [];

  /** The UI passes every live event to `observe` (the list never listens to the session itself). */
  constructor(private readonly session: ChatSession) {}

  get size(): number {
    return this.entries.length;
  }

  /** Ignores the member now called `name`, or waits for one to take it. */
  add(name: string): IgnoreResult {
    const found = this.session.whois(name);
    if (found?.member.user_id === this.session.me.user_id || sameName(name, this.session.me.username))
      return 'self';
    if (found) {
      const userId = found.member.user_id;
      if (this.entries.some((e) => e.userId === userId)) return 'already';
      if (this.entries.length >= MAX_IGNORED) return 'full';
      const entry: IgnoredMember = { userId, name: found.member.username, earlier: [] };
      if (!sameName(name, found.member.username)) entry.earlier.push(name);
      if (found.fingerprint !== undefined) entry.fingerprint = found.fingerprint;
      this.entries.push(entry);
      return 'ignored';
    }
    if (this.entries.some((e) => e.userId === undefined && sameName(e.name, name))) return 'already';
    if (this.entries.length >= MAX_IGNORED) return 'full';
    this.entries.push({ name, earlier: [] });
    return 'pending';
  }

  /**
   * Stops ignoring the member called `name` now, or last, or earlier (a name it had when
   * ignored, or took since): the current names first. Returns the member's current name, or
   * undefined when none is ignored.
   */
  remove(name: string): string | undefined {
    let index = this.entries.findIndex((e) => sameName(this.currentName(e), name));
    if (index < 0)
      index = this.entries.findIndex((e) => [e.name, ...e.earlier].some((n) => sameName(n, name)));
    const entry = this.entries[index];
    if (entry === undefined) return undefined;
    this.entries.splice(index, 1);
    return this.currentName(entry);
  }

  /** The ignored members by their current names; absent ones and awaited names say so. */
  describe(): string[] {
    return this.entries.map((e) => {
      if (e.userId === undefined) return `${e.name} (when they join)`;
      return this.present(e.userId) ? this.currentName(e) : `${e.name} (not in the room)`;
    });
  }

  /** True for a message or private message from an ignored member. */
  hides(ev: ChatEvent): boolean {
    if (ev.type === 'message' && !ev.mine) return this.matches(ev.userId, ev.signature === 'valid');
    if (ev.type === 'private' && !ev.mine) return this.matches(ev.fromUserId, !ev.undecryptable);
    return false;
  }

  /** The sender is ignored by user_id, or (when it proved its key) by that key's fingerprint. */
  private matches(userId: string, keyProven: boolean): boolean {
    if (this.entries.some((e) => e.userId === userId)) return true;
    if (!keyProven) return false;
    const fingerprint = this.session.memberFingerprint(userId);
    return fingerprint !== undefined && this.entries.some((e) => e.fingerprint === fingerprint);
  }

  /** Binds an awaited name to the member taking it, and keeps each member's last name. */
  observe(ev: ChatEvent): void {
    if (ev.type !== 'join' && ev.type !== 'rename') return;
    const name = ev.type === 'join' ? ev.username : ev.new;
    const tracked = this.entries.find((e) => e.userId === ev.userId);
    if (tracked) {
      if (!sameName(tracked.name, name)) remember(tracked, tracked.name);
      tracked.name = name;
      return;
    }
    if (ev.userId === this.session.me.user_id) return;
    const waiting = this.entries.find((e) => e.userId === undefined && sameName(e.name, name));
    if (!waiting) return;
    waiting.userId = ev.userId;
    if (!sameName(waiting.name, name)) remember(waiting, waiting.name);
    waiting.name = name;
    const fingerprint = this.session.memberFingerprint(ev.userId);
    if (fingerprint !== undefined) waiting.fingerprint = fingerprint;
  }

  private currentName(e: IgnoredMember): string {
    return (e.userId === undefined ? undefined : this.present(e.userId)) ?? e.name;
  }

  private present(userId: string): string | undefined {
    return this.session.memberList().find((m) => m.user_id === userId)?.username;
  }
}

/** Adds an earlier name to an entry, once, within its bound. */
function remember(entry: IgnoredMember, name: string): void {
  entry.earlier = entry.earlier.filter((n) => !sameName(n, name));
  entry.earlier.push(name);
  if (entry.earlier.length > MAX_EARLIER_NAMES) entry.earlier.shift();
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
