/**
 * One room of the daemon: its members on this daemon, its bounded history of ciphertext
 * messages, and the fan-out of frames to members. It knows nothing of sockets (members are
 * `Peer`s that accept serialised frames: room-member.ts) nor of where the room lives: its log
 * and its name table come from a `RoomBacking` (lib/rooms), in memory for one daemon or on
 * JetStream for a cluster, and this code is the same for both. Messages and wipes are
 * appended to the log and reach every member through the log's watch, in log order, numbered
 * (held back while their sender's join is not seen yet: join-wait.ts), from the member's place
 * in it (a returning member gets what it missed in pages that respect its send queue, or a
 * gap: catch-up.ts). Names are claimed (name-claim.ts), held (room-holds.ts) and released by
 * compare-and-set in the name table, and presence (`user_joined`, `user_left`,
 * `user_renamed`) comes from its watch (room-names.ts, room-presence.ts).
 */
import { randomBytes } from 'node:crypto';
import { ProtocolError } from '../protocol/errors.js';
import { legacyTimestamp, type Member, type MessageData, type ServerFrame } from '../protocol/frames.js';
import type { RoomCredentials } from '../protocol/handshake-server.js';
import { nameClass, normalizeName } from '../protocol/names.js';
import { appendWithRetry } from '../rooms/append.js';
import type { LoggedEvent, NameChange, NameRecord, RoomBacking, RoomLog } from '../rooms/seam.js';
import { catchUp } from './catch-up.js';
import { RoomFanout } from './fanout.js';
import { History } from './history.js';
import { JoinWait } from './join-wait.js';
import { claimName, claimRename } from './name-claim.js';
import { PresenceBatcher } from './presence.js';
import { issueResumeSecret, resumeHashOf } from './resume.js';
import { RoomHolds } from './room-holds.js';
import type { BackingSource, JoinOptions, Peer, RoomLimits, RoomMember } from './room-member.js';
import { NameMirror } from './room-names.js';
import { memberOf, type PresenceRoom, present } from './room-presence.js';
import { Writes } from './writes.js';

export type { BackingSource, JoinOptions, Peer, RoomLimits } from './room-member.js';

export class Room {
  private readonly members = new Map<string, RoomMember>();
  private readonly history: History;
  private readonly presence: PresenceBatcher;
  private readonly names = new NameMirror();
  /** Names this daemon holds for its lost members, against their sources' quotas. */
  private readonly holds: RoomHolds;
  /** Name-table writes under way (awaited before the daemon lets go of the backing). */
  private readonly writes = new Writes();
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
  /** Log events waiting for their sender's join (join-wait.ts). */
  private readonly waiting = new JoinWait(
    (event) => this.fromStranger(event),
    (event) => this.onLogged(event),
  );
  private readonly fanout = new RoomFanout(() => this.peers());
  /** What the presence handling (room-presence.ts) may see and do of the room. */
  private readonly presenceRoom: PresenceRoom = {
    members: this.members,
    names: () => this.backing?.names,
    announce: (frame, except) => this.announce(frame, except),
    broadcast: (frame) => this.broadcast(frame),
    track: (write) => this.writes.track(write),
    remove: (member, reason) => this.remove(member.peer.userId, reason),
  };

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
    this.holds = new RoomHolds(limits, this.names, (write) => this.writes.track(write));
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
        (event) => (this.early ? this.early.push(event) : this.waiting.push(event)),
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
    this.waiting.release(true);
    this.backing = undefined;
    this.names.clear();
    this.holds.clear();
    await this.settle();
    await this.source.close();
  }

  /** Resolves when every name-table write under way has ended. */
  settle(): Promise<void> {
    return this.writes.settle();
  }

  private fromStranger(event: LoggedEvent): boolean {
    if (event.kind !== 'message') return false;
    const from = event.data.user_id;
    return !this.members.has(from) && this.names.recordOf(from) === undefined;
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
    this.waiting.drop();
    this.seen = 0;
    this.history.clear();
    for (const member of this.members.values()) member.cursor = 0;
  }

  /** A change of the name table (ours or another daemon's): the mirror, then the members. */
  private onNameChange(change: NameChange): void {
    this.holds.changed(change);
    for (const p of this.names.apply(change)) present(this.presenceRoom, p);
    this.waiting.release(false);
    if (this.members.size === 0 && this.namesEverywhere === 0) this.onEmptied?.();
  }

  /** Hands a member the log from its cursor in pages (catch-up.ts), then live events again. */
  private catchUp(member: RoomMember): void {
    if (member.catchingUp) return;
    member.catchingUp = true;
    void catchUp(member, {
      limits: this.limits,
      log: () => this.log,
      seen: () => this.seen,
      has: (m) => this.members.get(m.peer.userId) === m,
      send: (readers, event) => this.fanout.send(readers, JSON.stringify(this.frameOf(event)), event.seq),
    });
  }

  /** Takes a member of this daemon out of the room and closes its connection. */
  private remove(userId: string, reason: 'replaced' | 'keepalive'): void {
    const member = this.members.get(userId);
    if (!member) return;
    this.members.delete(userId);
    this.fanout.membersChanged();
    member.peer.close(reason);
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
    const { revision, resumed } = await claimName(backing.names, key, record, offered, {
      present: () => this.names.presentCount,
      maxMembers: this.limits.maxMembersPerRoom,
      track: (write) => this.writes.track(write),
    });
    if (this.backing !== backing) {
      // The room started a new life meanwhile (it emptied): the claim went with the old one.
      throw new ProtocolError('busy');
    }
    const you = memberOf(peer.userId, username, options.card);
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
    if (names) this.holds.letGo(names, member, holdName);
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
    const old = await claimRename(names, member, username, (write) => this.writes.track(write));
    if (old !== undefined && old !== username)
      this.broadcast({ type: 'user_renamed', user_id: userId, old, new: username });
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
    return this.names.presentRecords().map((r) => memberOf(r.userId, r.username, r.card));
  }
}
