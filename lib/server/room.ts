/**
 * One room of the daemon: its members, its bounded history of ciphertext messages, and the
 * fan-out of frames to members. It knows nothing of sockets: members are `Peer`s that accept
 * serialised frames. Bodies are Fernet tokens the daemon cannot read.
 */
import { randomBytes } from 'node:crypto';
import { ProtocolError } from '../protocol/errors.js';
import { legacyTimestamp, type Member, type MessageData, type ServerFrame } from '../protocol/frames.js';
import type { RoomCredentials } from '../protocol/handshake-server.js';
import { nameKeys, normalizeName } from '../protocol/names.js';
import type { SharedBudget, Shrinkable } from '../rooms/budget.js';
import { PresenceBatcher } from './presence.js';
import { type Continuity, issueResumeSecret, RecentIds, resumeHashesMatch, resumeHashOf } from './resume.js';

/** A room member's connection as the room sees it. */
export interface Peer {
  readonly userId: string;
  /** Queues one serialised frame (JSON, no newline) for this member. */
  sendSerialized(json: string): void;
  /** Closes the connection: the member came back on a new one. */
  close(reason: 'replaced'): void;
}

interface RoomMember {
  peer: Peer;
  username: string;
  keys: readonly string[];
  /** Opaque to the daemon: sealed under the room key by the member. */
  card?: string;
  /** The last presence event its `init` reflected (see presence.ts). */
  since: number;
  /** Members on a sealed channel can resume; original (plaintext) clients cannot. */
  continuity?: Continuity;
}

/**
 * The name of a member whose connection was lost, held for its reconnect until `expiresAt`
 * (released then by `timer`, or, in a cluster, by the room's sequencer).
 */
interface Reservation {
  /** The member's user id on the connection that was lost. */
  userId: string;
  username: string;
  keys: readonly string[];
  continuity: Continuity;
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** A held name as a cluster's replicas exchange it. */
export interface HeldName {
  userId: string;
  username: string;
  resumeHash: Buffer;
  /** The member's recent message ids, oldest first. */
  sent: string[];
  /** How long it stays held (ms). */
  msLeft: number;
}

/** How a member joins: with the secret of an earlier connection, and whether it may resume later. */
export interface JoinOptions {
  card?: string;
  /** The resume secret from the `init` of the member's previous connection. */
  resume?: string;
  /** Issue a resume secret (members on a sealed channel; never in plaintext). */
  resumable?: boolean;
  /** In a cluster: the hash of the secret offered (the member's daemon hashed `resume`). */
  resumeHash?: Buffer;
  /**
   * In a cluster: the secret issued for this join by the member's daemon (`secret` there
   * only) and its hash, instead of one issued here.
   */
  issued?: { hash: Buffer; secret?: string };
}

/**
 * The last messages of a room, bounded in count and in characters of ciphertext, so that a
 * member filling the history with the largest messages cannot make the init frame of every
 * later joiner huge. The oldest go first. Also bounded daemon-wide by a shared budget.
 */
class History implements Shrinkable {
  private items: MessageData[] = [];
  private chars = 0;
  /** Messages dropped since the last clear (too many, too large, or the daemon-wide budget). */
  dropped = 0;

  constructor(
    private readonly maxCount: number,
    private readonly maxChars: number,
    private readonly budget: SharedBudget | undefined,
  ) {
    budget?.stores.add(this);
  }

  /** Characters held. */
  get size(): number {
    return this.chars;
  }

  push(item: MessageData): void {
    if (this.maxCount === 0) return;
    this.items.push(item);
    this.chars += item.text.length;
    if (this.budget) this.budget.used += item.text.length;
    while (this.items.length > this.maxCount || (this.chars > this.maxChars && this.items.length > 1)) {
      this.dropOldest();
    }
    this.budget?.enforce();
  }

  dropOldest(): void {
    const item = this.items.shift();
    if (!item) return;
    this.dropped++;
    this.chars -= item.text.length;
    if (this.budget) this.budget.used -= item.text.length;
  }

  /** Leaves the shared budget (the room is gone). */
  detach(): void {
    this.clear();
    this.budget?.stores.delete(this);
  }

  toArray(): MessageData[] {
    return [...this.items];
  }

  clear(): void {
    if (this.budget) this.budget.used -= this.chars;
    this.items = [];
    this.chars = 0;
    this.dropped = 0;
  }
}

/** The limits a room enforces itself. */
export interface RoomLimits {
  historySize: number;
  historyBytes: number;
  maxMembersPerRoom: number;
  /** Shared bound on all histories of the daemon (characters); absent: per room only. */
  historyBudget?: SharedBudget;
  /** Presence events are sent at most once per this many ms (batched); absent or 0: at once. */
  presenceIntervalMs?: number;
  /** How long the name of a member whose connection was lost stays held for it (ms; 0 = not). */
  resumeGraceMs?: number;
}

export class Room {
  private readonly members = new Map<string, RoomMember>();
  /** Names held for members whose connection was lost, by user id, oldest first (bounded by the member limit). */
  private readonly reserved = new Map<string, Reservation>();
  private readonly history: History;
  private readonly presence: PresenceBatcher;
  private nextId = 1;
  /** Authenticated connections that have not joined yet: an open room stays while they exist. */
  pendingJoins = 0;
  /** Per-run prefix so message ids differ across daemon runs. */
  private readonly idPrefix = randomBytes(4).toString('hex');

  constructor(
    readonly name: string,
    readonly credentials: RoomCredentials,
    /** 'static' rooms live as long as the daemon; 'open' rooms vanish with their last member. */
    readonly kind: 'static' | 'open',
    private readonly limits: RoomLimits,
  ) {
    this.history = new History(limits.historySize, limits.historyBytes, limits.historyBudget);
    this.presence = new PresenceBatcher(limits.presenceIntervalMs ?? 0, () => this.members.values());
  }

  get memberCount(): number {
    return this.members.size;
  }

  /**
   * Adds a member; throws `name_taken`, `bad_name` or `busy`. Others get `user_joined`, the
   * member its `init`. Returns the member as the room announced it (name normalised). With
   * the resume secret of the member who holds the name (connected or not), the name is taken
   * back: an old connection still in the room is closed (others see it leave) and the
   * member's recent message ids carry over, so its resends are recognised.
   */
  join(peer: Peer, rawName: unknown, options: JoinOptions = {}): Member {
    return this.joinAs(peer, rawName, options).you;
  }

  /**
   * `join`, also telling which member's name was taken back (`resumed`: the user id of its
   * old connection, closed here, or of its held name, released here).
   */
  joinAs(peer: Peer, rawName: unknown, options: JoinOptions = {}): { you: Member; resumed?: string } {
    const username = normalizeName(rawName);
    const keys = nameKeys(username);
    const { card } = options;
    const offered = options.resume === undefined ? options.resumeHash : resumeHashOf(options.resume);
    const resumed = offered === undefined ? undefined : this.takeBack(keys, offered);
    // Checked before anything changes: a refused join takes nothing back.
    const replacedId = resumed?.replaced?.peer.userId;
    if (this.members.size - (replacedId === undefined ? 0 : 1) >= this.limits.maxMembersPerRoom) {
      throw new ProtocolError('busy');
    }
    if (this.nameInUse(keys, replacedId, resumed?.reservation)) throw new ProtocolError('name_taken');
    // The old connection leaves (and is closed), or the held name is released.
    const resumedId = replacedId ?? resumed?.reservation?.userId;
    if (resumedId !== undefined) this.takeOver(resumedId);
    resumed?.replaced?.peer.close('replaced');
    const you = this.admit(peer, username, card, keys, {
      resumable: options.resumable ?? false,
      ...(resumed ? { sent: resumed.continuity.sent } : {}),
      ...(options.issued ? { issued: options.issued } : {}),
    });
    return resumedId === undefined ? { you } : { you, resumed: resumedId };
  }

  /**
   * A takeover of the name of `userId`: that member (its old connection) leaves without being
   * closed here, or its held name is released. Returns what carries over to its new
   * connection. Used by `joinAs` and by a cluster replica applying its sequencer's decision.
   */
  takeOver(userId: string): Continuity | undefined {
    const member = this.members.get(userId);
    if (member) {
      this.members.delete(userId);
      this.announce({ type: 'user_left', user_id: userId, username: member.username });
      return member.continuity;
    }
    const reservation = this.reserved.get(userId);
    if (!reservation) return undefined;
    this.release(reservation);
    return reservation.continuity;
  }

  /**
   * Adds a member without the checks of `join` (a cluster replica applying what the room's
   * sequencer decided): others get `user_joined`, the member its `init`.
   */
  admit(
    peer: Peer,
    username: string,
    card?: string,
    keys: readonly string[] = nameKeys(username),
    resume: { resumable: boolean; sent?: RecentIds; issued?: { hash: Buffer; secret?: string } } = {
      resumable: false,
    },
  ): Member {
    const you: Member =
      card === undefined ? { user_id: peer.userId, username } : { user_id: peer.userId, username, card };
    const since = this.announce({ type: 'user_joined', ...you });
    const member: RoomMember =
      card === undefined ? { peer, username, keys, since } : { peer, username, keys, card, since };
    const issued = resume.issued ?? (resume.resumable ? issueResumeSecret() : undefined);
    const secret = issued?.secret;
    if (issued) member.continuity = { resumeHash: issued.hash, sent: resume.sent ?? new RecentIds() };
    this.members.set(peer.userId, member);
    const init: ServerFrame = {
      type: 'init',
      you,
      room: this.name,
      messages: this.history.toArray(),
      users: this.memberList(),
      // How many older messages the history no longer holds (absent when none).
      ...(this.history.dropped > 0 ? { omitted: this.history.dropped } : {}),
      ...(secret !== undefined ? { resume: secret } : {}),
    };
    peer.sendSerialized(JSON.stringify(init));
    return you;
  }

  /** Whether a member with this id is in the room. */
  has(userId: string): boolean {
    return this.members.has(userId);
  }

  /** A member's name and card, or undefined. */
  member(userId: string): { username: string; card?: string } | undefined {
    const m = this.members.get(userId);
    if (!m) return undefined;
    return m.card === undefined ? { username: m.username } : { username: m.username, card: m.card };
  }

  /**
   * The member (connected, or with its name held) whose name has these keys and whose resume
   * secret is `secret`; undefined when there is none (then the join is an ordinary one).
   */
  private takeBack(
    keys: readonly string[],
    offered: Buffer,
  ): { continuity: Continuity; replaced?: RoomMember; reservation?: Reservation } | undefined {
    for (const member of this.members.values()) {
      const c = member.continuity;
      if (c && member.keys.some((key) => keys.includes(key)) && resumeHashesMatch(c.resumeHash, offered)) {
        return { continuity: c, replaced: member };
      }
    }
    for (const reservation of this.reserved.values()) {
      const c = reservation.continuity;
      if (reservation.keys.some((key) => keys.includes(key)) && resumeHashesMatch(c.resumeHash, offered)) {
        return { continuity: c, reservation };
      }
    }
    return undefined;
  }

  /**
   * Removes a member (disconnect); others get `user_left`. With `holdName` (the connection
   * was lost, not closed by a goodbye), its name stays held for its reconnect for `graceMs`
   * (the room's grace unless given); released by the room itself unless `selfRelease` is
   * false (a cluster's sequencer releases it). Returns whether the name is held.
   */
  leave(userId: string, holdName = false, graceMs = this.resumeGraceMs, selfRelease = true): boolean {
    const member = this.members.get(userId);
    if (!member) return false;
    this.members.delete(userId);
    this.announce({ type: 'user_left', user_id: userId, username: member.username });
    if (!holdName || graceMs <= 0 || member.continuity === undefined) return false;
    this.hold(userId, member.username, member.keys, member.continuity, graceMs, selfRelease);
    return true;
  }

  private hold(
    userId: string,
    username: string,
    keys: readonly string[],
    continuity: Continuity,
    graceMs: number,
    selfRelease: boolean,
  ): void {
    const previous = this.reserved.get(userId);
    if (previous) this.release(previous);
    // Bounded: never more held names than members the room may have.
    if (this.reserved.size >= this.limits.maxMembersPerRoom) {
      const oldest = this.reserved.values().next().value;
      if (oldest !== undefined) this.release(oldest);
    }
    const reservation: Reservation = {
      userId,
      username,
      keys,
      continuity,
      expiresAt: Date.now() + graceMs,
      timer: undefined,
    };
    if (selfRelease) {
      reservation.timer = setTimeout(() => this.release(reservation), graceMs);
      reservation.timer.unref();
    }
    this.reserved.set(userId, reservation);
  }

  /** How long the name of a member whose connection was lost is held (ms; 0 = not). */
  get resumeGraceMs(): number {
    return this.limits.resumeGraceMs ?? 0;
  }

  /** Names held for members whose connection was lost. */
  get heldNames(): number {
    return this.reserved.size;
  }

  /** Releases the name held for the member whose connection `userId` was lost; false if none. */
  releaseHeld(userId: string): boolean {
    const reservation = this.reserved.get(userId);
    if (!reservation) return false;
    this.release(reservation);
    return true;
  }

  /** The user ids whose held names are due at `now`, and when the next one falls due (ms). */
  dueHeld(now: number = Date.now()): { due: string[]; next: number | undefined } {
    const due: string[] = [];
    let next: number | undefined;
    for (const r of this.reserved.values()) {
      if (r.expiresAt <= now) due.push(r.userId);
      else if (next === undefined || r.expiresAt < next) next = r.expiresAt;
    }
    return { due, next };
  }

  /** The held names, oldest first, with at most `maxIds` recent message ids each (a cluster snapshot). */
  heldList(maxIds: number, now: number = Date.now()): HeldName[] {
    return [...this.reserved.values()].map((r) => ({
      userId: r.userId,
      username: r.username,
      resumeHash: r.continuity.resumeHash,
      sent: r.continuity.sent.list(maxIds),
      msLeft: Math.max(0, r.expiresAt - now),
    }));
  }

  /** Replaces the held names by a cluster sequencer's (released by it, not here). */
  restoreHeld(held: readonly HeldName[]): void {
    for (const reservation of [...this.reserved.values()]) this.release(reservation);
    for (const h of held) {
      const continuity = { resumeHash: h.resumeHash, sent: RecentIds.from(h.sent) };
      this.hold(h.userId, h.username, nameKeys(h.username), continuity, h.msLeft, false);
    }
  }

  /** A member's resume hash and recent message ids (at most `maxIds`), or undefined. */
  continuityOf(userId: string, maxIds: number): { resumeHash: Buffer; sent: string[] } | undefined {
    const c = this.members.get(userId)?.continuity;
    return c && { resumeHash: c.resumeHash, sent: c.sent.list(maxIds) };
  }

  /** Sets a member's resume hash and recent message ids (a cluster replica catching up). */
  setContinuity(userId: string, resumeHash: Buffer, sent: readonly string[]): void {
    const member = this.members.get(userId);
    if (!member) return;
    const known = member.continuity?.sent.list() ?? [];
    // What this replica saw and the snapshot did not carry (older ids) stays.
    member.continuity = {
      resumeHash,
      sent: RecentIds.from([...known.filter((id) => !sent.includes(id)), ...sent]),
    };
  }

  /** Whether the member sent a message with this id lately (without answering it). */
  hasSent(userId: string, mid: string): boolean {
    return this.members.get(userId)?.continuity?.sent.has(mid) ?? false;
  }

  /** Remembers a message id the member sent (a cluster replica applying its sequencer's message). */
  rememberSent(userId: string, mid: string): void {
    this.members.get(userId)?.continuity?.sent.add(mid);
  }

  private release(reservation: Reservation): void {
    clearTimeout(reservation.timer);
    if (this.reserved.get(reservation.userId) === reservation) this.reserved.delete(reservation.userId);
  }

  /**
   * Stores and relays a message token; the sender gets the echo like everyone else. A message
   * whose `mid` the member sent before (a resend after a reconnect) is not relayed again.
   */
  message(userId: string, text: string, now: number = Date.now(), mid?: string): void {
    if (this.isResend(userId, mid)) return;
    this.relay(this.record(userId, text, now));
  }

  /**
   * True when `mid` is among the ids the member sent last (a resend after a reconnect): the
   * sender alone is told `received`. Otherwise the id is remembered and false returned.
   */
  isResend(userId: string, mid: string | undefined): boolean {
    const member = this.members.get(userId);
    if (!member) throw new ProtocolError('not_joined');
    const sent = member.continuity?.sent;
    if (mid === undefined || sent === undefined) return false;
    if (sent.has(mid)) {
      member.peer.sendSerialized(JSON.stringify({ type: 'received', mid }));
      return true;
    }
    sent.add(mid);
    return false;
  }

  /** The history entry a member's message becomes (numbered here); throws `not_joined`. */
  record(userId: string, text: string, now: number = Date.now()): MessageData {
    const member = this.members.get(userId);
    if (!member) throw new ProtocolError('not_joined');
    const data: MessageData = {
      id: `${this.idPrefix}-${this.nextId++}`,
      text,
      // Original clients print the first 19 characters of an ISO 8601 string.
      timestamp: this.credentials.legacy ? legacyTimestamp(now) : now / 1000,
      user_id: userId,
      username: member.username,
    };
    // Original clients expect the field; it never carries an address.
    if (this.credentials.legacy) data.user_ip = '';
    return data;
  }

  /** Stores a message entry and relays it to every member. */
  relay(data: MessageData): void {
    this.history.push(data);
    this.broadcast({ type: 'message', data });
  }

  /** The history, oldest first (a copy). */
  historyItems(): MessageData[] {
    return this.history.toArray();
  }

  /** Replaces the history without telling anyone (a cluster replica taking a snapshot). */
  replaceHistory(items: readonly MessageData[]): void {
    this.history.clear();
    for (const item of items) this.history.push(item);
  }

  /**
   * Relays a private message to one member and, as a receipt, back to its sender; never
   * stored. Throws `no_such_user`, or `no_card` for a member without keys (it could not read it).
   */
  privateMessage(fromUserId: string, toUserId: string, text: string, now: number = Date.now()): void {
    const sender = this.members.get(fromUserId);
    if (!sender) throw new ProtocolError('not_joined');
    const recipient = this.members.get(toUserId);
    if (!recipient || toUserId === fromUserId) throw new ProtocolError('no_such_user');
    if (recipient.card === undefined || sender.card === undefined) throw new ProtocolError('no_card');
    this.presence.flush(); // both know each other before the message
    const json = JSON.stringify({
      type: 'private',
      data: { from: fromUserId, to: toUserId, text, timestamp: now / 1000 },
    });
    recipient.peer.sendSerialized(json);
    sender.peer.sendSerialized(json);
  }

  /** Forgets the history without telling anyone (the room emptied, or is going away). */
  dropHistory(): void {
    this.history.clear();
  }

  /** Releases the room's share of the daemon-wide history budget and its held names (the room is gone). */
  dispose(): void {
    this.presence.dispose();
    this.history.detach();
    for (const reservation of [...this.reserved.values()]) this.release(reservation);
  }

  /** Wipes the history for everyone. */
  clear(userId: string): void {
    const member = this.members.get(userId);
    if (!member) throw new ProtocolError('not_joined');
    this.wipe(member.username);
  }

  /** Wipes the history for everyone, in the name of `by`. */
  wipe(by: string): void {
    this.history.clear();
    this.broadcast({ type: 'cleared', by });
  }

  /** Renames a member; throws `name_taken` or `bad_name` (non-fatal for the caller). */
  rename(userId: string, rawName: unknown): void {
    const member = this.members.get(userId);
    if (!member) throw new ProtocolError('not_joined');
    const username = normalizeName(rawName);
    const keys = nameKeys(username);
    if (this.nameInUse(keys, userId)) throw new ProtocolError('name_taken');
    this.applyRename(userId, username, keys);
  }

  /** Renames a member without the checks of `rename` (a cluster replica applying a decision). */
  applyRename(userId: string, username: string, keys: readonly string[] = nameKeys(username)): void {
    const member = this.members.get(userId);
    if (!member) return;
    const old = member.username;
    member.username = username;
    member.keys = keys;
    this.broadcast({ type: 'user_renamed', user_id: userId, old, new: username });
  }

  /**
   * Queues a presence frame (`user_joined`, `user_left`) for every member present when the
   * batch goes out (see presence.ts); returns its number.
   */
  announce(frame: ServerFrame): number {
    return this.presence.add(JSON.stringify(frame));
  }

  /** Sends one frame to every member, serialised once, after the presence events pending. */
  broadcast(frame: ServerFrame): void {
    this.presence.flush();
    const json = JSON.stringify(frame);
    for (const member of this.members.values()) member.peer.sendSerialized(json);
  }

  memberList(): Member[] {
    return [...this.members.values()].map((m) =>
      m.card === undefined
        ? { user_id: m.peer.userId, username: m.username }
        : { user_id: m.peer.userId, username: m.username, card: m.card },
    );
  }

  /** True when another member's name (or a held name) would be mistaken for one with these keys. */
  private nameInUse(keys: readonly string[], exceptUserId?: string, exceptHeld?: Reservation): boolean {
    for (const member of this.members.values()) {
      if (member.peer.userId === exceptUserId) continue;
      if (member.keys.some((key) => keys.includes(key))) return true;
    }
    for (const reservation of this.reserved.values()) {
      if (reservation === exceptHeld) continue;
      if (reservation.keys.some((key) => keys.includes(key))) return true;
    }
    return false;
  }
}
