/**
 * One room of the daemon: its members on this daemon, its bounded history of ciphertext
 * messages, and the fan-out of frames to members. It knows nothing of sockets (members are
 * `Peer`s that accept serialised frames) nor of where the room lives: its log and its name
 * table come from a `RoomBacking` (lib/rooms), in memory for one daemon or on JetStream for
 * a cluster, and this code is the same for both. Messages and wipes are appended to the log
 * and reach every member through the log's watch, in log order, numbered, from the member's
 * place in it (a returning member gets what it missed in pages that respect its send queue,
 * or a gap). Names are claimed, held and released by compare-and-set in the name table, and
 * presence (`user_joined`, `user_left`, `user_renamed`) comes from its watch (room-names.ts).
 */
import { randomBytes } from 'node:crypto';
import { ProtocolError } from '../protocol/errors.js';
import { legacyTimestamp, type Member, type MessageData, type ServerFrame } from '../protocol/frames.js';
import type { RoomCredentials } from '../protocol/handshake-server.js';
import { nameClass, normalizeName } from '../protocol/names.js';
import { appendWithRetry } from '../rooms/append.js';
import type { SharedBudget } from '../rooms/budget.js';
import type { LoggedEvent, NameChange, NameRecord, PageLimits, RoomBacking, RoomLog } from '../rooms/seam.js';
import { type BatchPeer, RoomFanout } from './fanout.js';
import { History } from './history.js';
import type { HoldQuota } from './holds.js';
import { PresenceBatcher } from './presence.js';
import { issueResumeSecret, resumeHashesMatch, resumeHashOf } from './resume.js';
import { NameMirror, type PresenceChange } from './room-names.js';

/** A room member's connection as the room sees it (frames for all go out as shared batches: fanout.ts). */
export interface Peer extends BatchPeer {
  readonly userId: string;
  /** Queues one serialised frame (JSON, no newline) for this member alone. */
  sendSerialized(json: string): void;
  /**
   * Closes the connection: `replaced`, the member came back on a new one; `keepalive`, the
   * room took its connection for lost (another daemon held its name): it resumes.
   */
  close(reason: 'replaced' | 'keepalive'): void;
  /** Bytes waiting to be written (a catching-up member gets its next page below a bound). */
  readonly queuedBytes?: number;
}

interface RoomMember {
  peer: Peer;
  username: string;
  /** `nameClass(username)`: the one key under which the name is unique in the room. */
  key: string;
  /** The revision of its entry in the name table (what its next compare-and-set names). */
  revision: number;
  /** Its entry as written (the record a hold or a re-claim starts from). */
  record: NameRecord;
  /** Opaque to the daemon: sealed under the room key by the member. */
  card?: string;
  /** The last presence event its `init` reflected (see presence.ts). */
  since: number;
  /** The last log event handed to it. */
  cursor: number;
  /** It is handed pages of the log (after a resume) rather than live events. */
  catchingUp: boolean;
}

/** How a member joins: with the secret of an earlier connection, and whether it may resume later. */
export interface JoinOptions {
  card?: string;
  /** The resume secret from the `init` of the member's previous connection. */
  resume?: string;
  /** Issue a resume secret (members on a sealed channel; never in plaintext). */
  resumable?: boolean;
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

/** Where the room's backing comes from: a new life of it at each open (the registry's store). */
export interface BackingSource {
  open(): Promise<RoomBacking>;
  close(): Promise<void>;
}

const DEFAULT_PAGE: PageLimits = { maxEvents: 256, maxChars: 1024 * 1024 };
/** How often a catching-up member's queue is looked at while it is above the bound (ms). */
const DRAIN_POLL_MS = 10;
/** Pause before reading again after a failed read (ms). */
const READ_RETRY_MS = 100;
/** Compare-and-set rounds a join tries before it gives up (others kept changing the name). */
const CLAIM_ROUNDS = 3;
/**
 * How long a message from a member this daemon has not seen join yet waits for its join (ms).
 * The log and the name table are watched apart, so on another daemon a newcomer's first
 * message may come before its `user_joined`; members would see it from a stranger.
 */
const JOIN_WAIT_MS = 500;

export class Room {
  private readonly members = new Map<string, RoomMember>();
  private readonly history: History;
  private readonly presence: PresenceBatcher;
  private readonly names = new NameMirror();
  /** Holds this daemon took, by key: their source's quota share is given back when they end. */
  private readonly localHolds = new Map<string, { source: string | undefined; revision: number }>();
  /** Name-table writes under way (awaited before the daemon lets go of the backing). */
  private readonly writes = new Set<Promise<unknown>>();
  private nextId = 1;
  /** Authenticated connections that have not joined yet: an open room stays while they exist. */
  pendingJoins = 0;
  /** Told when the room has no name left on any daemon and no member here. */
  onEmptied: (() => void) | undefined;
  /** Per-run prefix so message ids differ across daemons and runs. */
  private readonly idPrefix = randomBytes(4).toString('hex');
  private backing: RoomBacking | undefined;
  private detach: (() => void) | undefined;
  /** Resolves when the backing is open (a new one after `dropHistory`). */
  private opening: Promise<void> | undefined;
  /** The last event the log's watch delivered. */
  private seen = 0;
  /** Log events that came while the history was read at open (handled after it). */
  private early: LoggedEvent[] | undefined;
  /** Log events waiting for their sender's join (see JOIN_WAIT_MS), in order. */
  private waiting: LoggedEvent[] = [];
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly fanout = new RoomFanout(() => this.peers());

  constructor(
    readonly name: string,
    readonly credentials: RoomCredentials,
    /** 'static' rooms live as long as the daemon; 'open' rooms vanish with their last member. */
    readonly kind: 'static' | 'open',
    private readonly limits: RoomLimits,
    private readonly source: BackingSource,
  ) {
    this.history = new History(limits.historySize, limits.historyBytes, limits.historyBudget);
    this.presence = new PresenceBatcher(limits.presenceIntervalMs ?? 0, () => this.members.values());
  }

  /** Opens the room's backing if it is not open; resolves when it is (rejects if it cannot be). */
  ready(): Promise<void> {
    if (!this.opening) {
      const opening = this.attach();
      this.opening = opening;
      opening.catch(() => {
        if (this.opening === opening) this.opening = undefined;
      });
    }
    return this.opening;
  }

  private get log(): RoomLog | undefined {
    return this.backing?.log;
  }

  /** A new life of the backing: its names mirrored, the history read from its log, both watched. */
  private async attach(): Promise<void> {
    const backing = await this.source.open();
    const { log, names } = backing;
    this.early = [];
    this.seen = 0;
    const stops = [
      log.watch(
        (event) => (this.early ? this.early.push(event) : this.onWatched(event)),
        () => this.onRestart(),
      ),
      names.watch((change) => this.onNameChange(change)),
    ];
    if (backing.direct) {
      stops.push(backing.direct.watch((to, json) => this.members.get(to)?.peer.sendSerialized(json)));
    }
    this.backing = backing;
    this.detach = () => {
      for (const stop of stops) stop();
    };
    try {
      this.names.seed(await names.list());
      const from = Math.max(0, log.lastSeq - this.limits.historySize);
      const page = await log.read(from, {
        maxEvents: this.limits.historySize,
        maxChars: this.limits.historyBytes,
      });
      for (const event of page.events) this.onLogged(event);
      if (page.lastSeq > this.seen && page.events.length === 0) this.seen = page.lastSeq;
    } finally {
      const early = this.early ?? [];
      this.early = undefined;
      for (const event of early) if (event.seq > this.seen) this.onLogged(event);
    }
  }

  private async closeBacking(): Promise<void> {
    this.detach?.();
    this.detach = undefined;
    this.release(true);
    this.backing = undefined;
    this.names.clear();
    for (const hold of this.localHolds.values()) this.limits.holdQuota?.give(hold.source);
    this.localHolds.clear();
    await this.settle();
    await this.source.close();
  }

  /** Resolves when every name-table write under way has ended. */
  async settle(): Promise<void> {
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  private track<T>(write: Promise<T>): Promise<T> {
    this.writes.add(write);
    const done = (): void => {
      this.writes.delete(write);
    };
    write.then(done, done);
    return write;
  }

  /** A live log event: handed on, unless its sender's join has not been seen yet. */
  private onWatched(event: LoggedEvent): void {
    if (this.waiting.length === 0 && !this.fromStranger(event)) {
      this.onLogged(event);
      return;
    }
    this.waiting.push(event);
    if (!this.waitTimer) {
      this.waitTimer = setTimeout(() => this.release(true), JOIN_WAIT_MS);
      this.waitTimer.unref();
    }
  }

  private fromStranger(event: LoggedEvent): boolean {
    if (event.kind !== 'message') return false;
    const from = event.data.user_id;
    return !this.members.has(from) && this.names.recordOf(from) === undefined;
  }

  /** Hands on the waiting events whose sender is known now (all of them when `all`), in order. */
  private release(all: boolean): void {
    while (this.waiting.length > 0 && (all || !this.fromStranger(this.waiting[0]!))) {
      this.onLogged(this.waiting.shift()!);
    }
    if (this.waiting.length === 0 || all) {
      clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
    }
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
    if (event.seq <= this.seen) return;
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
    // What waited belongs to the old life of the log.
    this.waiting = [];
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    this.seen = 0;
    this.history.clear();
    for (const member of this.members.values()) member.cursor = 0;
  }

  /** A change of the name table (ours or another daemon's): the mirror, then the members. */
  private onNameChange(change: NameChange): void {
    const key = change.op === 'put' ? change.entry.key : change.key;
    const hold = this.localHolds.get(key);
    if (hold && !(change.op === 'put' && change.entry.revision === hold.revision)) {
      // The hold this daemon took ended (resumed, released, expired): its quota share returns.
      this.localHolds.delete(key);
      this.limits.holdQuota?.give(hold.source);
    }
    for (const p of this.names.apply(change)) this.present(p);
    if (this.waiting.length > 0) this.release(false);
    if (this.members.size === 0 && this.namesEverywhere === 0) this.onEmptied?.();
  }

  private present(p: PresenceChange): void {
    const { userId, username, card } = p.record;
    const local = this.members.get(userId);
    if (p.kind === 'joined') {
      const you: Member =
        card === undefined ? { user_id: userId, username } : { user_id: userId, username, card };
      this.announce({ type: 'user_joined', ...you }, userId);
      return;
    }
    if (p.kind === 'renamed') {
      if (local) {
        local.username = username;
        local.key = p.key;
      }
      this.broadcast({ type: 'user_renamed', user_id: userId, old: p.old, new: username });
      return;
    }
    if (local && local.key === p.key && (p.why === 'released' || p.why === 'expired')) {
      // The name went under a connected member (its backing started over): claim it again.
      void this.reclaim(local);
      return;
    }
    this.announce({ type: 'user_left', user_id: userId, username });
    if (!local || local.key !== p.key) return;
    this.members.delete(userId);
    this.fanout.membersChanged();
    // Replaced by its own resume elsewhere, or held by another daemon that took it for gone.
    local.peer.close(p.why === 'held' ? 'keepalive' : 'replaced');
  }

  private async reclaim(member: RoomMember): Promise<void> {
    const names = this.backing?.names;
    const revision =
      names && (await this.track(names.create(member.key, member.record)).catch(() => undefined));
    if (revision !== undefined) member.revision = revision;
    else if (this.members.get(member.peer.userId) === member) {
      this.members.delete(member.peer.userId);
      this.fanout.membersChanged();
      member.peer.close('replaced');
    }
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

  /** Members connected to this daemon. */
  get memberCount(): number {
    return this.members.size;
  }

  /** Names in the room, present or held, on every daemon (0 also while the backing is closed). */
  get namesEverywhere(): number {
    return this.names.presentCount + this.names.heldCount;
  }

  /** Names held for members whose connection was lost (on every daemon). */
  get heldNames(): number {
    return this.names.heldCount;
  }

  /**
   * Adds a member; rejects with `name_taken`, `bad_name` or `busy`. The name is claimed in the
   * name table by compare-and-set: created when free, or taken back with the resume secret of
   * the member who holds it (connected anywhere or not; an old connection is closed
   * `replaced` by its daemon). Others get `user_joined`, the member its `init`; a member
   * that proved its secret reads the log from its old place. Returns the member as
   * announced (name normalised) and whether it resumed.
   */
  async join(
    peer: Peer,
    rawName: unknown,
    options: JoinOptions = {},
  ): Promise<{ you: Member; resumed: boolean }> {
    const username = normalizeName(rawName);
    const key = nameClass(username);
    await this.ready();
    const backing = this.backing;
    if (!backing) throw new ProtocolError('busy');
    const offered = options.resume === undefined ? undefined : resumeHashOf(options.resume);
    const issued = options.resumable ? issueResumeSecret() : undefined;
    const record: NameRecord = {
      username,
      userId: peer.userId,
      owner: randomBytes(16).toString('hex'),
      source: options.source ?? '',
      state: 'present',
    };
    if (options.card !== undefined) record.card = options.card;
    if (issued) record.resume = issued.hash.toString('hex');
    let revision: number | undefined;
    let resumed = false;
    for (let round = 0; round < CLAIM_ROUNDS && revision === undefined; round++) {
      const existing = await backing.names.get(key);
      const takesBack =
        existing !== undefined &&
        offered !== undefined &&
        existing.record.resume !== undefined &&
        resumeHashesMatch(Buffer.from(existing.record.resume, 'hex'), offered);
      const replacing = takesBack && existing.record.state === 'present' ? 1 : 0;
      if (this.names.presentCount - replacing >= this.limits.maxMembersPerRoom)
        throw new ProtocolError('busy');
      if (existing && !takesBack) throw new ProtocolError('name_taken');
      if (existing) {
        // The owner's id stays: the log's de-duplication ids of its messages start with it.
        record.owner = existing.record.owner;
        revision = await this.track(backing.names.update(key, record, existing.revision));
        resumed = revision !== undefined;
      } else revision = await this.track(backing.names.create(key, record));
    }
    if (revision === undefined) throw new ProtocolError('name_taken');
    if (this.backing !== backing) {
      // The room started a new life meanwhile (it emptied): the claim went with the old one.
      throw new ProtocolError('busy');
    }
    const you: Member =
      options.card === undefined
        ? { user_id: peer.userId, username }
        : { user_id: peer.userId, username, card: options.card };
    const log = backing.log;
    const after = resumed ? options.after : undefined;
    // A cursor of this life of the log, not ahead of it: the member is handed what it missed.
    const resuming = after !== undefined && after.epoch === log.epoch && after.seq <= this.seen;
    const cursor = resuming ? after.seq : this.seen;
    const member: RoomMember = {
      peer,
      username,
      key,
      revision,
      record,
      since: this.presence.current,
      cursor,
      catchingUp: false,
    };
    if (options.card !== undefined) member.card = options.card;
    this.members.set(peer.userId, member);
    this.fanout.membersChanged();
    const users = this.memberList();
    if (!users.some((u) => u.user_id === peer.userId)) users.push(you);
    const init: ServerFrame = {
      type: 'init',
      you,
      room: this.name,
      messages: resuming ? [] : this.history.toArray(),
      users,
      // How many older messages the history no longer holds (absent when none).
      ...(!resuming && this.history.dropped > 0 ? { omitted: this.history.dropped } : {}),
      ...(issued ? { resume: issued.secret } : {}),
      // `head`: the log's last event now; a resuming member is handed those after `seq` up to it.
      ...(!this.credentials.legacy ? { epoch: log.epoch, seq: cursor, head: this.seen } : {}),
    };
    peer.sendSerialized(JSON.stringify(init));
    if (cursor < this.seen) this.catchUp(member);
    return { you, resumed };
  }

  /**
   * Throws what `join` would throw for a plain join (no resume secret) under `rawName` —
   * `bad_name`, `busy` or `name_taken` (as far as this daemon knows the names) — and changes
   * nothing. An original client must hear a refusal before H_AMK: it ignores one after.
   */
  checkJoin(rawName: unknown): void {
    const key = nameClass(normalizeName(rawName));
    if (this.names.presentCount >= this.limits.maxMembersPerRoom) throw new ProtocolError('busy');
    if (this.names.get(key)) throw new ProtocolError('name_taken');
  }

  /** Whether a member with this id is connected here. */
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
   * Removes a member of this daemon (disconnect); everyone gets `user_left` from the name
   * table's change. With `holdName` (the connection was lost, not closed by a goodbye), its
   * name stays held for its resume for the room's grace, unless the room already holds as
   * many names as it may have members or the member's source is at its quota (no hold is
   * ever evicted for another); otherwise the name is released.
   */
  leave(userId: string, holdName = false): void {
    const member = this.members.get(userId);
    if (!member) return;
    this.members.delete(userId);
    this.fanout.membersChanged();
    const names = this.backing?.names;
    if (!names) return;
    const graceMs = this.limits.resumeGraceMs ?? 0;
    // Behind a proxy there is no source (''): holds are not counted per source then.
    const source = member.record.source === '' ? undefined : member.record.source;
    const canHold =
      holdName &&
      graceMs > 0 &&
      member.record.resume !== undefined &&
      this.names.heldCount < this.limits.maxMembersPerRoom &&
      (this.limits.holdQuota?.take(source) ?? true);
    if (!canHold) {
      void this.track(names.remove(member.key, member.revision));
      return;
    }
    const held = { ...member.record, username: member.username, state: 'held' as const };
    void this.track(names.hold(member.key, held, member.revision, graceMs)).then(
      (revision) => {
        const entry = this.names.get(member.key);
        // Taken (the quota share with it) unless the entry moved on already.
        if (revision !== undefined && (entry === undefined || entry.revision <= revision)) {
          this.localHolds.set(member.key, { source, revision });
        } else this.limits.holdQuota?.give(source);
      },
      () => this.limits.holdQuota?.give(source),
    );
  }

  /**
   * Appends a member's message to the log; everyone (the sender too, as its echo) gets it
   * from the log's watch. The log's de-duplication id is the member's owner id (kept across
   * resumes) and its `mid`, so a resend is appended once and its sender told `received`; an
   * append the log does not acknowledge is retried with the same id.
   */
  message(userId: string, text: string, now: number = Date.now(), mid?: string): void {
    const log = this.log;
    const member = this.members.get(userId);
    if (!member || !log) throw new ProtocolError('not_joined');
    const data = this.record(member, text, now);
    const event = { kind: 'message' as const, data };
    const appended =
      mid === undefined ? log.append(event) : appendWithRetry(log, event, `${member.record.owner}:${mid}`);
    appended.then(
      (answer) => {
        // A member still to be handed the original gets it as its echo instead.
        if (!answer.duplicate || mid === undefined || member.cursor < answer.seq) return;
        member.peer.sendSerialized(JSON.stringify({ type: 'received', mid }));
      },
      () => {
        // Not acknowledged after every retry: the client resends it with the same `mid`.
      },
    );
  }

  /** The history entry a member's message becomes. */
  private record(member: RoomMember, text: string, now: number): MessageData {
    const data: MessageData = {
      id: `${this.idPrefix}-${this.nextId++}`,
      text,
      // Original clients print the first 19 characters of an ISO 8601 string.
      timestamp: this.credentials.legacy ? legacyTimestamp(now) : now / 1000,
      user_id: member.peer.userId,
      username: member.username,
    };
    // Original clients expect the field; it never carries an address.
    if (this.credentials.legacy) data.user_ip = '';
    return data;
  }

  /**
   * Relays a private message to one member (on this daemon or, through the backing's direct
   * channel, on another) and, as a receipt, back to its sender; never stored. Throws
   * `no_such_user`, or `no_card` for a member without keys (it could not read it).
   */
  privateMessage(fromUserId: string, toUserId: string, text: string, now: number = Date.now()): void {
    const sender = this.members.get(fromUserId);
    if (!sender) throw new ProtocolError('not_joined');
    const recipient = this.names.recordOf(toUserId);
    const local = this.members.get(toUserId);
    const direct = this.backing?.direct;
    if (!recipient || toUserId === fromUserId || (!local && !direct)) throw new ProtocolError('no_such_user');
    if (recipient.card === undefined || sender.card === undefined) throw new ProtocolError('no_card');
    this.presence.flush(); // both know each other before the message
    const json = JSON.stringify({
      type: 'private',
      data: { from: fromUserId, to: toUserId, text, timestamp: now / 1000 },
    });
    if (local) local.peer.sendSerialized(json);
    else direct?.send(toUserId, json);
    sender.peer.sendSerialized(json);
  }

  /**
   * Forgets the history without telling anyone (the room emptied): the backing is closed and
   * opened again, a new life of the log (a new epoch), so nothing said before can be read back.
   */
  dropHistory(): void {
    this.history.clear();
    const previous = this.opening;
    if (!previous) return;
    const next = previous
      .catch(() => undefined)
      .then(() => this.closeBacking())
      .then(() => this.attach());
    this.opening = next;
    next.catch(() => {
      if (this.opening === next) this.opening = undefined;
    });
  }

  /** Releases the room's share of the daemon-wide budgets and its backing (the room is gone). */
  async dispose(): Promise<void> {
    this.presence.dispose();
    this.fanout.dispose();
    this.history.detach();
    const opening = this.opening;
    this.opening = undefined;
    await opening?.catch(() => undefined);
    await this.closeBacking().catch(() => undefined);
  }

  /** Wipes the history for everyone (through the log, which numbers the wipe). */
  clear(userId: string): void {
    const member = this.members.get(userId);
    if (!member || !this.log) throw new ProtocolError('not_joined');
    this.log.wipe(member.username).catch(() => {
      // Not done: the member may ask again.
    });
  }

  /**
   * Renames a member: the new name is claimed (compare-and-set) before the old one is
   * released, so no one can take either in between. Rejects with `name_taken` or `bad_name`.
   */
  async rename(userId: string, rawName: unknown): Promise<void> {
    const member = this.members.get(userId);
    const names = this.backing?.names;
    if (!member || !names) throw new ProtocolError('not_joined');
    const username = normalizeName(rawName);
    const key = nameClass(username);
    const record: NameRecord = { ...member.record, username };
    if (key === member.key) {
      const revision = await this.track(names.update(key, record, member.revision));
      if (revision === undefined) throw new ProtocolError('name_taken');
      member.revision = revision;
      member.record = record;
      const old = member.username;
      member.username = username;
      if (old !== username) this.broadcast({ type: 'user_renamed', user_id: userId, old, new: username });
      return;
    }
    // Read before the claim: the table's watch moves the member to its new key meanwhile.
    const oldKey = member.key;
    const oldRevision = member.revision;
    const revision = await this.track(names.create(key, record));
    if (revision === undefined) throw new ProtocolError('name_taken');
    member.revision = revision;
    member.record = record;
    member.key = key;
    member.username = username;
    await this.track(names.remove(oldKey, oldRevision));
  }

  /**
   * Queues a presence frame for every member present when the batch goes out (but `except`,
   * whose own join its `init` tells); returns its number.
   */
  announce(frame: ServerFrame, except?: string): number {
    return this.presence.add(JSON.stringify(frame), except);
  }

  /** Sends one frame to every member, serialised once, after the presence events pending. */
  broadcast(frame: ServerFrame): void {
    this.presence.flush();
    this.fanout.send([...this.peers()], JSON.stringify(frame));
  }

  /** The members present in the room, on every daemon. */
  memberList(): Member[] {
    return this.names
      .presentRecords()
      .map((r) =>
        r.card === undefined
          ? { user_id: r.userId, username: r.username }
          : { user_id: r.userId, username: r.username, card: r.card },
      );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
