/**
 * One room of the daemon: its members, its bounded history of ciphertext messages, and the
 * fan-out of frames to members. It knows nothing of sockets: members are `Peer`s that accept
 * serialised frames. Bodies are Fernet tokens the daemon cannot read. Messages and wipes go
 * through the room's log (lib/rooms): each member gets the log's events in order, numbered,
 * from its place in it (a returning member from the cursor it hands back, in pages that
 * respect its send queue); a member of a room without a log (a cluster's) gets them unnumbered.
 */
import { randomBytes } from 'node:crypto';
import { ProtocolError } from '../protocol/errors.js';
import { legacyTimestamp, type Member, type MessageData, type ServerFrame } from '../protocol/frames.js';
import type { RoomCredentials } from '../protocol/handshake-server.js';
import { nameClass, normalizeName } from '../protocol/names.js';
import { appendWithRetry } from '../rooms/append.js';
import type { SharedBudget } from '../rooms/budget.js';
import type { LoggedEvent, PageLimits, RoomLog } from '../rooms/seam.js';
import { type BatchPeer, RoomFanout } from './fanout.js';
import { History } from './history.js';
import type { HoldQuota } from './holds.js';
import { PresenceBatcher } from './presence.js';
import { type Continuity, issueResumeSecret, RecentIds, resumeHashesMatch, resumeHashOf } from './resume.js';

/** A room member's connection as the room sees it (frames for all go out as shared batches: fanout.ts). */
export interface Peer extends BatchPeer {
  readonly userId: string;
  /** Queues one serialised frame (JSON, no newline) for this member alone. */
  sendSerialized(json: string): void;
  /** Closes the connection: the member came back on a new one. */
  close(reason: 'replaced'): void;
  /** Bytes waiting to be written (a catching-up member gets its next page below a bound). */
  readonly queuedBytes?: number;
}

interface RoomMember {
  peer: Peer;
  username: string;
  /** `nameClass(username)`: the one key under which the name is unique in the room. */
  key: string;
  /** Opaque to the daemon: sealed under the room key by the member. */
  card?: string;
  /** The last presence event its `init` reflected (see presence.ts). */
  since: number;
  /** Members on a sealed channel can resume; original (plaintext) clients cannot. */
  continuity?: Continuity;
  /** Where its hold counts (see HoldQuota); undefined behind a proxy. */
  source?: string;
  /** The last log event handed to it. */
  cursor: number;
  /** It is handed pages of the log (after a resume) rather than live events. */
  catchingUp: boolean;
}

/**
 * The name of a member whose connection was lost, held for its reconnect until `expiresAt`
 * (released then by `timer`, or, in a cluster, by the room's sequencer).
 */
interface Reservation {
  /** The member's user id on the connection that was lost. */
  userId: string;
  username: string;
  /** `nameClass(username)`: the one key under which the name is unique in the room. */
  key: string;
  continuity: Continuity;
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
  source?: string;
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
  /** The member's place in the log on its previous connection (honoured with a valid `resume`). */
  after?: { epoch: string; seq: number };
  /** Where the connection comes from (holds are counted per source). */
  source?: string;
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
  /** Daemon-wide holds per source; absent: not counted. */
  holdQuota?: HoldQuota;
  /** A returning member is handed the log in pages of this size… */
  resumePage?: PageLimits;
  /** …each once its send queue is down to this many bytes. */
  resumeQueueLowBytes?: number;
}

/** The room's log, a new one for each life of the room (absent in a cluster: the old path). */
export interface LogSource {
  open(): RoomLog;
  close(log: RoomLog): void;
}

const DEFAULT_PAGE: PageLimits = { maxEvents: 256, maxChars: 1024 * 1024 };
/** How often a catching-up member's queue is looked at while it is above the bound (ms). */
const DRAIN_POLL_MS = 10;
/** Pause before reading again after a failed read (ms). */
const READ_RETRY_MS = 100;

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
  private log: RoomLog | undefined;
  private unwatch: (() => void) | undefined;
  /** The last event the log's watch delivered. */
  private seen = 0;
  private readonly fanout = new RoomFanout(() => this.peers());

  constructor(
    readonly name: string,
    readonly credentials: RoomCredentials,
    /** 'static' rooms live as long as the daemon; 'open' rooms vanish with their last member. */
    readonly kind: 'static' | 'open',
    private readonly limits: RoomLimits,
    private readonly logs?: LogSource,
  ) {
    this.history = new History(limits.historySize, limits.historyBytes, limits.historyBudget);
    this.presence = new PresenceBatcher(limits.presenceIntervalMs ?? 0, () => this.members.values());
    this.openLog();
  }

  /** Starts a new life of the room's log (a new epoch, numbered from 1). */
  private openLog(): void {
    if (!this.logs) return;
    const log = this.logs.open();
    this.log = log;
    this.seen = log.lastSeq;
    this.unwatch = log.watch(
      (event) => this.onLogged(event),
      () => this.onRestart(),
    );
  }

  private closeLog(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.log) this.logs?.close(this.log);
    this.log = undefined;
  }

  /** Numbered frames carry `seq`; legacy rooms keep the original frames. */
  private frameOf(event: LoggedEvent): ServerFrame {
    const seq = this.credentials.legacy ? {} : { seq: event.seq };
    return event.kind === 'message'
      ? { type: 'message', ...seq, data: event.data }
      : { type: 'cleared', by: event.by, ...seq };
  }

  /** A log event, live: into the history, and to every member that is up to date. */
  private onLogged(event: LoggedEvent): void {
    this.seen = event.seq;
    if (event.kind === 'message') this.history.push(event.data);
    else this.history.clear();
    this.presence.flush();
    const recipients: Peer[] = [];
    for (const member of this.members.values()) {
      if (member.catchingUp) continue;
      if (event.seq === member.cursor + 1) {
        recipients.push(member.peer);
        member.cursor = event.seq;
      } else if (event.seq > member.cursor + 1) this.catchUp(member);
    }
    this.fanout.send(recipients, JSON.stringify(this.frameOf(event)), event.seq);
  }

  private *peers(): Iterable<Peer> {
    for (const member of this.members.values()) yield member.peer;
  }

  /** The log started over under us: every member's place is its start. */
  private onRestart(): void {
    this.seen = 0;
    this.history.clear();
    for (const member of this.members.values()) member.cursor = 0;
  }

  /** Hands a member the log from its cursor in pages, then live events again. */
  private catchUp(member: RoomMember): void {
    if (member.catchingUp) return;
    member.catchingUp = true;
    void this.pump(member);
  }

  private async pump(member: RoomMember): Promise<void> {
    const page = this.limits.resumePage ?? DEFAULT_PAGE;
    const low = this.limits.resumeQueueLowBytes ?? Number.POSITIVE_INFINITY;
    const here = (): boolean => this.members.get(member.peer.userId) === member;
    while (here()) {
      const log = this.log;
      if (!log || member.cursor >= this.seen) {
        member.catchingUp = false;
        return;
      }
      if ((member.peer.queuedBytes ?? 0) > low) {
        await sleep(DRAIN_POLL_MS);
        continue;
      }
      let read: Awaited<ReturnType<RoomLog['read']>>;
      try {
        read = await log.read(member.cursor, page);
      } catch {
        await sleep(READ_RETRY_MS);
        continue;
      }
      if (!here() || log !== this.log || read.epoch !== log.epoch) continue;
      if (read.firstSeq > member.cursor + 1) {
        if (read.lost > 0 || read.wiped > 0) {
          const gap: ServerFrame = {
            type: 'gap',
            lost: read.lost,
            wiped: read.wiped,
            seq: read.firstSeq - 1,
          };
          member.peer.sendSerialized(JSON.stringify(gap));
        }
        member.cursor = read.firstSeq - 1;
      }
      // A page goes the way of live events: a batch under the room's broadcast key (for this
      // member alone), never sealed under a nonce of its own sequence numbers.
      const reader = [member.peer];
      for (const event of read.events) {
        if (event.seq !== member.cursor + 1) continue;
        this.fanout.send(reader, JSON.stringify(this.frameOf(event)), event.seq);
        member.cursor = event.seq;
      }
      // Nothing more to read than what the watch has not delivered yet: live from here.
      if (read.events.length === 0 && read.lastSeq <= member.cursor) {
        member.catchingUp = false;
        return;
      }
    }
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
    const key = nameClass(username);
    const { card } = options;
    const offered = options.resume === undefined ? options.resumeHash : resumeHashOf(options.resume);
    const resumed = offered === undefined ? undefined : this.takeBack(key, offered);
    // Checked before anything changes: a refused join takes nothing back.
    const replacedId = resumed?.replaced?.peer.userId;
    if (this.members.size - (replacedId === undefined ? 0 : 1) >= this.limits.maxMembersPerRoom) {
      throw new ProtocolError('busy');
    }
    if (this.nameInUse(key, replacedId, resumed?.reservation)) throw new ProtocolError('name_taken');
    // The old connection leaves (and is closed), or the held name is released.
    const resumedId = replacedId ?? resumed?.reservation?.userId;
    if (resumedId !== undefined) this.takeOver(resumedId);
    resumed?.replaced?.peer.close('replaced');
    const you = this.admit(peer, username, card, key, {
      resumable: options.resumable ?? false,
      ...(resumed ? { sent: resumed.continuity.sent } : {}),
      ...(resumed?.continuity.owner !== undefined ? { owner: resumed.continuity.owner } : {}),
      ...(options.issued ? { issued: options.issued } : {}),
      // Only a member that proved its resume secret reads back from its old place.
      ...(resumed && options.after ? { after: options.after } : {}),
      ...(options.source !== undefined ? { source: options.source } : {}),
    });
    return resumedId === undefined ? { you } : { you, resumed: resumedId };
  }

  /**
   * Throws what `join` would throw for a plain join (no resume secret) under `rawName` —
   * `bad_name`, `busy` or `name_taken` (a member's or a held name of the same class) — and
   * changes nothing. An original client must hear a refusal before H_AMK: it ignores one after.
   */
  checkJoin(rawName: unknown): void {
    const key = nameClass(normalizeName(rawName));
    if (this.members.size >= this.limits.maxMembersPerRoom) throw new ProtocolError('busy');
    if (this.nameInUse(key)) throw new ProtocolError('name_taken');
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
      this.fanout.membersChanged();
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
    key: string = nameClass(username),
    resume: {
      resumable: boolean;
      sent?: RecentIds;
      owner?: string;
      issued?: { hash: Buffer; secret?: string };
      after?: { epoch: string; seq: number };
      source?: string;
    } = {
      resumable: false,
    },
  ): Member {
    const you: Member =
      card === undefined ? { user_id: peer.userId, username } : { user_id: peer.userId, username, card };
    const since = this.announce({ type: 'user_joined', ...you });
    const log = this.log;
    const after = resume.after;
    // A cursor of this life of the log, not ahead of it: the member is handed what it missed.
    const resuming =
      log !== undefined && after !== undefined && after.epoch === log.epoch && after.seq <= this.seen;
    const cursor = resuming ? after.seq : this.seen;
    const member: RoomMember = { peer, username, key, since, cursor, catchingUp: false };
    if (card !== undefined) member.card = card;
    if (resume.source !== undefined) member.source = resume.source;
    const issued = resume.issued ?? (resume.resumable ? issueResumeSecret() : undefined);
    const secret = issued?.secret;
    if (issued) {
      member.continuity = { resumeHash: issued.hash, sent: resume.sent ?? new RecentIds() };
      // The log's de-duplication ids are keyed by this: it stays the same across resumes.
      if (log) member.continuity.owner = resume.owner ?? randomBytes(16).toString('hex');
    }
    this.members.set(peer.userId, member);
    this.fanout.membersChanged();
    const init: ServerFrame = {
      type: 'init',
      you,
      room: this.name,
      messages: resuming ? [] : this.history.toArray(),
      users: this.memberList(),
      // How many older messages the history no longer holds (absent when none).
      ...(!resuming && this.history.dropped > 0 ? { omitted: this.history.dropped } : {}),
      ...(secret !== undefined ? { resume: secret } : {}),
      ...(log && !this.credentials.legacy ? { epoch: log.epoch, seq: cursor } : {}),
    };
    peer.sendSerialized(JSON.stringify(init));
    if (cursor < this.seen) this.catchUp(member);
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
   * The member (connected, or with its name held) whose name has this class and whose resume
   * secret is `secret`; undefined when there is none (then the join is an ordinary one).
   */
  private takeBack(
    key: string,
    offered: Buffer,
  ): { continuity: Continuity; replaced?: RoomMember; reservation?: Reservation } | undefined {
    for (const member of this.members.values()) {
      const c = member.continuity;
      if (c && member.key === key && resumeHashesMatch(c.resumeHash, offered)) {
        return { continuity: c, replaced: member };
      }
    }
    for (const reservation of this.reserved.values()) {
      const c = reservation.continuity;
      if (reservation.key === key && resumeHashesMatch(c.resumeHash, offered)) {
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
    this.fanout.membersChanged();
    this.announce({ type: 'user_left', user_id: userId, username: member.username });
    if (!holdName || graceMs <= 0 || member.continuity === undefined) return false;
    return this.hold(
      userId,
      member.username,
      member.key,
      member.continuity,
      graceMs,
      selfRelease,
      member.source,
    );
  }

  private hold(
    userId: string,
    username: string,
    key: string,
    continuity: Continuity,
    graceMs: number,
    selfRelease: boolean,
    source?: string,
  ): boolean {
    const previous = this.reserved.get(userId);
    if (previous) this.release(previous);
    // Bounded, and never at anyone else's expense: a room with as many held names as it may
    // have members, or a source at its quota, gets no new hold (no hold is evicted for it).
    if (this.reserved.size >= this.limits.maxMembersPerRoom) return false;
    if (this.limits.holdQuota && !this.limits.holdQuota.take(source)) return false;
    const reservation: Reservation = {
      userId,
      username,
      key,
      continuity,
      expiresAt: Date.now() + graceMs,
      timer: undefined,
    };
    if (source !== undefined) reservation.source = source;
    if (selfRelease) {
      reservation.timer = setTimeout(() => this.release(reservation), graceMs);
      reservation.timer.unref();
    }
    this.reserved.set(userId, reservation);
    return true;
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
      this.hold(h.userId, h.username, nameClass(h.username), continuity, h.msLeft, false);
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
    if (this.reserved.get(reservation.userId) !== reservation) return;
    this.reserved.delete(reservation.userId);
    this.limits.holdQuota?.give(reservation.source);
  }

  /**
   * Stores and relays a message token; the sender gets the echo like everyone else. A message
   * whose `mid` the member sent before (a resend after a reconnect) is not relayed again.
   */
  message(userId: string, text: string, now: number = Date.now(), mid?: string): void {
    const log = this.log;
    if (!log) {
      if (this.isResend(userId, mid)) return;
      this.relay(this.record(userId, text, now));
      return;
    }
    const member = this.members.get(userId);
    const data = this.record(userId, text, now);
    // The log recognises a resend: its id is the member's owner (kept across resumes) and its `mid`,
    // so one member's ids never collide with another's, and they carry over on resume.
    const owner = member?.continuity?.owner;
    const event = { kind: 'message' as const, data };
    const appended =
      mid === undefined || owner === undefined
        ? log.append(event)
        : appendWithRetry(log, event, `${owner}:${mid}`);
    appended.then(
      (answer) => {
        // A member still to be handed the original gets it as its echo instead.
        if (!answer.duplicate || mid === undefined || !member || member.cursor < answer.seq) return;
        member.peer.sendSerialized(JSON.stringify({ type: 'received', mid }));
      },
      () => {
        // Not acknowledged after every retry: the client resends it with the same `mid`.
      },
    );
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

  /**
   * Forgets the history without telling anyone (the room emptied, or is going away): the log
   * starts a new life (a new epoch), so nothing said before can be read back.
   */
  dropHistory(): void {
    this.history.clear();
    if (!this.log) return;
    this.closeLog();
    this.openLog();
  }

  /** Releases the room's share of the daemon-wide budgets, its log and its held names (the room is gone). */
  dispose(): void {
    this.presence.dispose();
    this.fanout.dispose();
    this.history.detach();
    this.closeLog();
    for (const reservation of [...this.reserved.values()]) this.release(reservation);
  }

  /** Wipes the history for everyone (through the log, which numbers the wipe). */
  clear(userId: string): void {
    const member = this.members.get(userId);
    if (!member) throw new ProtocolError('not_joined');
    if (this.log) {
      this.log.wipe(member.username).catch(() => {
        // Not done: the member may ask again.
      });
      return;
    }
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
    const key = nameClass(username);
    if (this.nameInUse(key, userId)) throw new ProtocolError('name_taken');
    this.applyRename(userId, username, key);
  }

  /** Renames a member without the checks of `rename` (a cluster replica applying a decision). */
  applyRename(userId: string, username: string, key: string = nameClass(username)): void {
    const member = this.members.get(userId);
    if (!member) return;
    const old = member.username;
    member.username = username;
    member.key = key;
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
    this.fanout.send([...this.peers()], JSON.stringify(frame));
  }

  memberList(): Member[] {
    return [...this.members.values()].map((m) =>
      m.card === undefined
        ? { user_id: m.peer.userId, username: m.username }
        : { user_id: m.peer.userId, username: m.username, card: m.card },
    );
  }

  /** True when another member's name (or a held name) would be mistaken for one of this class. */
  private nameInUse(key: string, exceptUserId?: string, exceptHeld?: Reservation): boolean {
    for (const member of this.members.values()) {
      if (member.peer.userId === exceptUserId) continue;
      if (member.key === key) return true;
    }
    for (const reservation of this.reserved.values()) {
      if (reservation === exceptHeld) continue;
      if (reservation.key === key) return true;
    }
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
