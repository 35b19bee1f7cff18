/**
 * The daemon's rooms shared with the other daemons of a cluster over the room bus.
 *
 * Every daemon holds a replica of every room: all members (its own with their connections,
 * the others' as placeholders), the history. One daemon, the sequencer (the oldest live one,
 * see membership.ts), decides every change: joins (so names stay unique cluster-wide),
 * leaves, messages, renames and wipes are requests to it; it applies each to its replica and
 * publishes the result with a room sequence number, and every other daemon applies the
 * results in that order and delivers them to its members: one order for everyone. A gap in
 * the numbers, a new sequencer, or the bus coming back makes a daemon send its own members
 * (and messages it numbered alone) to the sequencer, which answers with a snapshot.
 *
 * Daemons announce themselves every heartbeat; one unheard for three heartbeats is dead and
 * the sequencer removes its members. A daemon that loses the bus is alone: it sequences its
 * rooms for its own members until the bus is back.
 *
 * Reconnects work as on one daemon, cluster-wide: a member's daemon issues its resume secret
 * and sends only its hash, which travels in the numbered join; a join offering a secret (its
 * hash) is decided by the sequencer, which may take a member's name back from its old
 * connection on any daemon (closed `replaced` there) or from a held name. Names of members
 * lost by the network are held with sequenced leaves and released by the sequencer when due
 * (every replica knows the expiry, so a new sequencer releases them too). Message ids (`mid`)
 * travel with the numbered messages, so every replica knows each member's recent ones and a
 * resend is answered `received` to its sender only.
 */
import { createHash } from 'node:crypto';
import { isErrorCode, ProtocolError } from '../protocol/errors.js';
import { b64, type MessageData } from '../protocol/frames.js';
import type { RoomCredentials } from '../protocol/handshake-server.js';
import { normalizeRoomName } from '../protocol/names.js';
import type { CloseReason } from '../server/link.js';
import type { Logger } from '../server/log.js';
import { issueResumeSecret, RESEND_WINDOW, RecentIds, resumeHashOf } from '../server/resume.js';
import type { JoinOptions, Peer, Room } from '../server/room.js';
import type { RoomRegistry } from '../server/rooms.js';
import { type BusEvent, MAX_BUS_PAYLOAD, type RoomBus } from './bus.js';
import { Membership } from './membership.js';
import {
  type ClusterMember,
  type ControlEvent,
  type HeldEntry,
  newestThatFit,
  parseControlEvent,
  parseRoomEvent,
  type RoomChange,
  type RoomEvent,
  type SharedRoom,
  type SyncMember,
} from './room-events.js';

/** A member's connection on this daemon, as the shared rooms need it. */
export interface LocalMember extends Peer {
  close(reason: CloseReason): void;
}

/** Called once a join is decided: undefined when the member is in, else the refusal. */
export type JoinDone = (error: ProtocolError | undefined) => void;

interface PendingJoin {
  peer: LocalMember;
  username: string;
  card: string | undefined;
  /** The secret issued for this join (its `init` carries it) and its hash. */
  issued: { secret: string; hash: Buffer } | undefined;
  /** The hash of the secret the client offered to take its name back. */
  offer: Buffer | undefined;
  done: JoinDone;
}

interface SharedRoomState {
  room: Room;
  /** The daemon whose numbered changes this replica follows (undefined: none yet). */
  source: string | undefined;
  /** The number of the last change applied (or, on the sequencer, published). */
  seq: number;
  /** Every member's daemon. */
  owners: Map<string, string>;
  /** This daemon's members. */
  local: Map<string, LocalMember>;
  /** Joins asked of the sequencer and not answered yet. */
  pending: Map<string, PendingJoin>;
  /** Ids of messages this daemon numbered while it sequenced the room (sent on the next sync). */
  numbered: Set<string>;
  /** When this daemon last asked the sequencer for a snapshot (ms). */
  syncAskedAt: number;
}

export interface SharedRoomsOptions {
  bus: RoomBus;
  registry: RoomRegistry;
  logger: Logger;
  /** Interval of announcements (ms); a daemon unheard for three is dead. */
  heartbeatMs: number;
}

/** Snapshots and syncs stay this far below the bus's payload bound. */
const PAYLOAD_BUDGET = MAX_BUS_PAYLOAD - 64 * 1024;
/** Open rooms per `rooms` announcement. */
const ROOMS_PER_EVENT = 200;
/** Snapshots and syncs give members' recent message ids at most this share of the budget. */
const MIDS_BUDGET = PAYLOAD_BUDGET / 4;
/** Bytes one message id takes in a snapshot, at most (64 characters, quotes, comma). */
const MID_BYTES = 67;

/** How many recent message ids each of `count` members may carry in one payload. */
function midsEach(count: number): number {
  return Math.min(RESEND_WINDOW, Math.floor(MIDS_BUDGET / MID_BYTES / Math.max(1, count)));
}

const b64hash = (hash: Buffer): string => hash.toString('base64');
const hashOf = (rh: string): Buffer => Buffer.from(rh, 'base64');

const placeholder = (userId: string): Peer => ({ userId, sendSerialized: () => {}, close: () => {} });
const short = (node: string): string => node.slice(0, 8);

export class SharedRooms {
  private readonly bus: RoomBus;
  private readonly registry: RoomRegistry;
  private readonly logger: Logger;
  private readonly membership: Membership;
  private readonly states = new Map<string, SharedRoomState>();
  /** Who created each open room (the lowest id wins when two daemons create one name at once). */
  private readonly creators = new Map<string, string>();
  /** The sequencer's run id; empty until start() has heard the others (nobody decides yet). */
  private sequencer = '';
  private timer: NodeJS.Timeout | undefined;
  /** Sequencer: fires when the next held name falls due. */
  private holdTimer: NodeJS.Timeout | undefined;
  /** When the last tick ran (ms): a late one sweeps no daemon away. */
  private lastTick = 0;
  private closed = false;
  private busUp = true;
  /** Digest of this daemon's static rooms, announced so that a differing daemon is noticed. */
  private config = '';
  /** Daemons already warned about (bounded by the live daemons). */
  private readonly warnedConfig = new Set<string>();

  constructor(private readonly options: SharedRoomsOptions) {
    this.bus = options.bus;
    this.registry = options.registry;
    this.logger = options.logger;
    this.membership = new Membership(this.bus.nodeId, Date.now(), options.heartbeatMs * 3);
  }

  get nodeId(): string {
    return this.bus.nodeId;
  }

  /** Live daemons of the cluster as this one knows them (itself included). */
  get liveDaemons(): number {
    return this.membership.size;
  }

  /** Members connected to this daemon. */
  get localMembers(): number {
    let n = 0;
    for (const state of this.states.values()) n += state.local.size;
    return n;
  }

  /**
   * Joins the cluster: listens, announces itself, waits `settleMs` for the others' answers
   * (so that it learns the sequencer and the open rooms before serving anyone), then asks
   * for a snapshot of every room.
   */
  async start(settleMs: number): Promise<void> {
    this.registry.onRemoved = (room) => this.forgetRoom(room);
    this.config = this.configDigest();
    for (const room of this.registry.all()) this.track(room);
    this.bus.subscribeControl((event, from) => this.onControl(event, from));
    this.bus.onState((state) => this.onBusState(state));
    this.hello(true);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    this.sequencer = this.membership.sequencer();
    for (const state of this.states.values()) {
      if (this.isSequencer()) state.source = this.nodeId;
      else this.askSnapshot(state);
    }
    this.lastTick = Date.now();
    this.timer = setInterval(() => this.tick(), this.options.heartbeatMs);
    this.timer.unref();
    this.logger.info(
      `cluster: ${this.membership.size} daemon(s) live; ${this.sequencer === this.nodeId ? 'this one' : `daemon ${short(this.sequencer)}`} sequences the rooms`,
    );
  }

  /** Says goodbye (the others fail over at once) and stops; the bus is closed by its owner. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.holdTimer);
    this.bus.publishControl({ t: 'bye' });
  }

  // ---- What the daemon asks ----

  /** A room this daemon's client created (open rooms): the other daemons learn it. */
  created(room: Room): void {
    this.creators.set(room.name, this.nodeId);
    this.track(room);
    this.bus.publishControl({ t: 'rooms', rooms: [this.describe(room)] });
  }

  /**
   * Puts a member in the room once the sequencer agrees; `username` is normalised. With
   * `resumable` its `init` carries a resume secret (issued here; only its hash crosses);
   * with `resume` it takes back the name of the member that secret was issued to.
   */
  join(room: Room, peer: LocalMember, username: string, options: JoinOptions, done: JoinDone): void {
    const issued = options.resumable ? issueResumeSecret() : undefined;
    const offer = options.resume === undefined ? undefined : resumeHashOf(options.resume);
    this.decideJoin(room, { peer, username, card: options.card, issued, offer, done });
  }

  private decideJoin(room: Room, p: PendingJoin): void {
    const state = this.track(room);
    const { peer, card, issued, offer } = p;
    if (this.isSequencer()) {
      try {
        const { you, resumed } = room.joinAs(peer, p.username, {
          ...(card === undefined ? {} : { card }),
          ...(offer === undefined ? {} : { resumeHash: offer }),
          ...(issued === undefined ? {} : { issued }),
        });
        if (resumed !== undefined) this.forgetReplaced(state, resumed);
        this.admitted(state, peer, this.nodeId);
        this.emit(state, {
          k: 'join',
          ...you,
          node: this.nodeId,
          ...(issued === undefined ? {} : { rh: b64hash(issued.hash) }),
          ...(resumed === undefined ? {} : { resumes: resumed }),
        });
      } catch (err) {
        p.done(err instanceof ProtocolError ? err : new ProtocolError('internal'));
        return;
      }
      p.done(undefined);
      return;
    }
    state.pending.set(peer.userId, p);
    this.requestJoin(state, p);
  }

  private requestJoin(state: SharedRoomState, p: PendingJoin): void {
    this.request(state.room, {
      t: 'join',
      user_id: p.peer.userId,
      username: p.username,
      ...(p.card === undefined ? {} : { card: p.card }),
      ...(p.issued === undefined ? {} : { rh: b64hash(p.issued.hash) }),
      ...(p.offer === undefined ? {} : { offer: b64hash(p.offer) }),
    });
  }

  /**
   * A member (or a client waiting for its join) of this daemon is gone. With `holdName` (its
   * connection was lost), its name stays held for its reconnect, cluster-wide.
   */
  leave(room: Room, userId: string, holdName = false): void {
    const state = this.states.get(room.name);
    if (!state || state.room !== room) return;
    const wasPending = state.pending.delete(userId);
    const wasLocal = state.local.delete(userId);
    if (!wasPending && !wasLocal) return;
    const hold = wasLocal && holdName;
    if (this.isSequencer()) {
      this.removeMember(state, userId, hold);
      return;
    }
    this.request(room, { t: 'leave', user_id: userId, ...(hold ? { hold: true } : {}) });
  }

  /**
   * A member's message, numbered by the sequencer. A `mid` the member sent before (a resend
   * after a reconnect) is answered `received` to it alone and not numbered again.
   */
  message(room: Room, userId: string, text: string, mid?: string): void {
    const state = this.memberState(room, userId);
    if (this.isSequencer()) {
      if (room.isResend(userId, mid)) return;
      const data = room.record(userId, text);
      room.relay(data);
      this.remember(state, data.id);
      this.emit(state, { k: 'msg', data, ...(mid === undefined ? {} : { mid }) });
      return;
    }
    // Known here means numbered already: answered at once, without a round trip.
    if (mid !== undefined && room.hasSent(userId, mid)) {
      state.local.get(userId)?.sendSerialized(JSON.stringify({ type: 'received', mid }));
      return;
    }
    this.request(room, { t: 'msg', user_id: userId, text, ...(mid === undefined ? {} : { mid }) });
  }

  clear(room: Room, userId: string): void {
    const state = this.memberState(room, userId);
    if (this.isSequencer()) {
      const by = room.member(userId)?.username ?? '';
      room.wipe(by);
      this.emit(state, { k: 'clear', by });
      return;
    }
    this.request(room, { t: 'clear', user_id: userId });
  }

  /** Renames a member; `username` is normalised. Refusals reach the member as error frames. */
  rename(room: Room, userId: string, username: string): void {
    const state = this.memberState(room, userId);
    if (this.isSequencer()) {
      room.rename(userId, username);
      this.emit(state, { k: 'nick', user_id: userId, username });
      return;
    }
    this.request(room, { t: 'nick', user_id: userId, username });
  }

  /**
   * A private message to one member on whichever daemon holds it, and the receipt back to its
   * sender; never stored. Throws like Room.privateMessage.
   */
  privateMessage(room: Room, fromUserId: string, toUserId: string, text: string): void {
    const state = this.memberState(room, fromUserId);
    const sender = room.member(fromUserId);
    const recipient = room.member(toUserId);
    if (!sender) throw new ProtocolError('not_joined');
    if (!recipient || toUserId === fromUserId) throw new ProtocolError('no_such_user');
    if (recipient.card === undefined || sender.card === undefined) throw new ProtocolError('no_card');
    const json = JSON.stringify({
      type: 'private',
      data: { from: fromUserId, to: toUserId, text, timestamp: Date.now() / 1000 },
    });
    const local = state.local.get(toUserId);
    if (local) local.sendSerialized(json);
    else {
      const node = state.owners.get(toUserId);
      if (node === undefined) throw new ProtocolError('no_such_user');
      this.bus.publish(room.name, { t: 'pm', node, to: toUserId, json });
    }
    state.local.get(fromUserId)?.sendSerialized(json);
  }

  // ---- Internals ----

  private isSequencer(): boolean {
    return this.sequencer === this.nodeId;
  }

  private memberState(room: Room, userId: string): SharedRoomState {
    const state = this.states.get(room.name);
    if (!state || state.room !== room || !state.local.has(userId)) throw new ProtocolError('not_joined');
    return state;
  }

  /** The room's shared state, created (and subscribed) on first use. */
  private track(room: Room): SharedRoomState {
    let state = this.states.get(room.name);
    if (state && state.room === room) return state;
    state = {
      room,
      source: this.isSequencer() ? this.nodeId : undefined,
      seq: 0,
      owners: new Map(),
      local: new Map(),
      pending: new Map(),
      numbered: new Set(),
      syncAskedAt: 0,
    };
    this.states.set(room.name, state);
    const tracked = state;
    this.bus.subscribeRoom(room.name, (event, from) => this.onRoomEvent(tracked, event, from));
    return state;
  }

  /** The registry dropped a room (an open room that emptied). */
  private forgetRoom(room: Room): void {
    const state = this.states.get(room.name);
    if (!state || state.room !== room) return;
    this.states.delete(room.name);
    this.creators.delete(room.name);
    this.bus.unsubscribeRoom(room.name);
  }

  private request(room: Room, event: RoomEvent): void {
    this.bus.publish(room.name, event as unknown as BusEvent);
  }

  /** Sequencer: publishes one numbered change (already applied to its replica). */
  private emit(state: SharedRoomState, ev: RoomChange): void {
    state.seq++;
    this.bus.publish(state.room.name, { t: 'ev', seq: state.seq, ev } as unknown as BusEvent);
  }

  private remember(state: SharedRoomState, id: string): void {
    state.numbered.add(id);
    // Only what the history still holds can be resent; older ids are forgotten.
    if (state.numbered.size > 4 * Math.max(1, this.registry.historySize)) {
      const keep = new Set(state.room.historyItems().map((m) => m.id));
      for (const x of state.numbered) if (!keep.has(x)) state.numbered.delete(x);
    }
  }

  private admitted(state: SharedRoomState, peer: LocalMember, node: string): void {
    state.owners.set(peer.userId, node);
    if (node === this.nodeId) state.local.set(peer.userId, peer);
  }

  /** An old connection whose member took its name back: gone from this replica (the room closed it). */
  private forgetReplaced(state: SharedRoomState, userId: string): void {
    state.owners.delete(userId);
    state.local.delete(userId);
  }

  /** Sequencer: removes a member from its replica and tells the others; `hold`: its name is held. */
  private removeMember(state: SharedRoomState, userId: string, hold = false): void {
    state.owners.delete(userId);
    const { room } = state;
    if (!room.has(userId)) return;
    const graceMs = room.resumeGraceMs;
    const held = room.leave(userId, hold, graceMs, false);
    this.emit(state, { k: 'leave', user_id: userId, ...(held ? { hold_ms: graceMs } : {}) });
    if (held) this.scheduleHoldRelease();
    this.registry.releaseIfEmpty(room);
  }

  /** Sequencer: releases the held names that are due, everywhere, and waits for the next. */
  private releaseDueHolds(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (this.closed || !this.isSequencer()) return;
    for (const state of this.states.values()) {
      for (const userId of state.room.dueHeld().due) {
        state.room.releaseHeld(userId);
        this.emit(state, { k: 'release', user_id: userId });
      }
    }
    this.scheduleHoldRelease();
  }

  /** Sequencer: a timer for the next held name to fall due (one for all rooms). */
  private scheduleHoldRelease(): void {
    if (this.closed || !this.isSequencer()) return;
    let next: number | undefined;
    for (const state of this.states.values()) {
      const due = state.room.dueHeld().next;
      if (due !== undefined && (next === undefined || due < next)) next = due;
    }
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (next === undefined) return;
    this.holdTimer = setTimeout(() => this.releaseDueHolds(), Math.max(0, next - Date.now()) + 5);
    this.holdTimer.unref();
  }

  /** A member of this daemon that the sequencer removed: it cannot stay. */
  private dropLocal(state: SharedRoomState, userId: string, reason: CloseReason): void {
    const peer = state.local.get(userId);
    if (!peer) return;
    state.local.delete(userId);
    peer.close(reason);
  }

  private askSnapshot(state: SharedRoomState): void {
    if (this.isSequencer()) return;
    state.syncAskedAt = Date.now();
    const members: SyncMember[] = [];
    const each = midsEach(state.local.size);
    for (const userId of state.local.keys()) {
      const m = state.room.member(userId);
      if (m) members.push({ user_id: userId, ...m, ...this.resumableOf(state.room, userId, each) });
    }
    const numbered = state.room.historyItems().filter((m) => state.numbered.has(m.id));
    const orphans = newestThatFit(numbered, PAYLOAD_BUDGET / 2);
    this.request(state.room, { t: 'sync', members, orphans });
    // Joins asked of an earlier sequencer may be lost.
    this.askJoinsAgain(state);
  }

  /** Asks the sequencer again for every join still waiting (a repeat is ignored). */
  private askJoinsAgain(state: SharedRoomState): void {
    for (const p of state.pending.values()) this.requestJoin(state, p);
  }

  /** A member's resume hash and recent message ids as they cross the bus. */
  private resumableOf(room: Room, userId: string, maxIds: number): { rh?: string; mids?: string[] } {
    const c = room.continuityOf(userId, maxIds);
    return c ? { rh: b64hash(c.resumeHash), mids: c.sent } : {};
  }

  private onRoomEvent(state: SharedRoomState, raw: BusEvent, from: string): void {
    if (this.closed || this.states.get(state.room.name) !== state) return;
    const event = parseRoomEvent(raw);
    if (!event) return;
    this.membership.touch(from, Date.now());
    switch (event.t) {
      case 'ev':
        this.onChange(state, event.seq, event.ev, from);
        return;
      case 'snap':
        if (event.to === this.nodeId && from === this.sequencer) this.onSnapshot(state, event, from);
        return;
      case 'refuse':
        if (event.node === this.nodeId && from === this.sequencer) this.onRefuse(state, event);
        return;
      case 'received':
        if (event.node === this.nodeId && from === this.sequencer) {
          state.local
            .get(event.user_id)
            ?.sendSerialized(JSON.stringify({ type: 'received', mid: event.mid }));
        }
        return;
      case 'pm':
        if (event.node === this.nodeId) state.local.get(event.to)?.sendSerialized(event.json);
        return;
      default:
        if (this.isSequencer() && this.membership.isLive(from)) this.onRequest(state, event, from);
    }
  }

  /** Sequencer: a request from another daemon. */
  private onRequest(state: SharedRoomState, event: RoomEvent, from: string): void {
    const { room } = state;
    const refuse = (userId: string, err: unknown, kick = false): void => {
      const code = err instanceof ProtocolError ? err.code : 'internal';
      this.request(room, { t: 'refuse', node: from, user_id: userId, code, kick });
    };
    const ownedBy = (userId: string): boolean => state.owners.get(userId) === from && room.has(userId);
    if ((event.t === 'msg' || event.t === 'clear' || event.t === 'nick') && !ownedBy(event.user_id)) {
      refuse(event.user_id, new ProtocolError('not_joined'));
      return;
    }
    try {
      switch (event.t) {
        case 'join': {
          if (room.has(event.user_id)) return; // asked again after a sync: already in
          try {
            const { you, resumed } = room.joinAs(placeholder(event.user_id), event.username, {
              ...(event.card === undefined ? {} : { card: event.card }),
              ...(event.offer === undefined ? {} : { resumeHash: hashOf(event.offer) }),
              ...(event.rh === undefined ? {} : { issued: { hash: hashOf(event.rh) } }),
            });
            // The old connection, wherever it is, is closed by its daemon on this join.
            if (resumed !== undefined) this.forgetReplaced(state, resumed);
            state.owners.set(event.user_id, from);
            this.emit(state, {
              k: 'join',
              ...you,
              node: from,
              ...(event.rh === undefined ? {} : { rh: event.rh }),
              ...(resumed === undefined ? {} : { resumes: resumed }),
            });
          } catch (err) {
            refuse(event.user_id, err);
          }
          return;
        }
        case 'leave':
          if (ownedBy(event.user_id)) this.removeMember(state, event.user_id, event.hold === true);
          return;
        case 'msg': {
          if (room.isResend(event.user_id, event.mid) && event.mid !== undefined) {
            this.request(room, { t: 'received', node: from, user_id: event.user_id, mid: event.mid });
            return;
          }
          const data = room.record(event.user_id, event.text);
          room.relay(data);
          this.emit(state, { k: 'msg', data, ...(event.mid === undefined ? {} : { mid: event.mid }) });
          return;
        }
        case 'clear': {
          const by = room.member(event.user_id)?.username ?? '';
          room.wipe(by);
          this.emit(state, { k: 'clear', by });
          return;
        }
        case 'nick':
          try {
            room.rename(event.user_id, event.username);
            this.emit(state, { k: 'nick', user_id: event.user_id, username: event.username });
          } catch (err) {
            refuse(event.user_id, err);
          }
          return;
        case 'sync':
          this.onSync(state, event.members, event.orphans, from, refuse);
          return;
        default:
          return;
      }
    } catch (err) {
      this.logger.info(`cluster: a request failed (${err instanceof Error ? err.name : 'error'})`);
    }
  }

  /**
   * Sequencer: a daemon's own members and the messages it numbered alone. Its members this
   * replica lacks are added (a name taken meanwhile: that member is refused and dropped by its
   * daemon), those it no longer has are removed, its messages not yet here are appended;
   * then it gets a snapshot.
   */
  private onSync(
    state: SharedRoomState,
    members: SyncMember[],
    orphans: MessageData[],
    from: string,
    refuse: (userId: string, err: unknown, kick?: boolean) => void,
  ): void {
    const { room } = state;
    const listed = new Set(members.map((m) => m.user_id));
    for (const [userId, node] of [...state.owners]) {
      if (node === from && !listed.has(userId)) this.removeMember(state, userId);
    }
    for (const m of members) {
      if (room.has(m.user_id)) continue;
      // Held while its daemon was out of reach: that very connection is back.
      if (room.releaseHeld(m.user_id)) this.emit(state, { k: 'release', user_id: m.user_id });
      try {
        const you = room.join(placeholder(m.user_id), m.username, {
          ...(m.card === undefined ? {} : { card: m.card }),
          ...(m.rh === undefined ? {} : { issued: { hash: hashOf(m.rh) } }),
        });
        if (m.rh !== undefined) room.setContinuity(m.user_id, hashOf(m.rh), m.mids ?? []);
        state.owners.set(m.user_id, from);
        this.emit(state, { k: 'join', ...you, node: from, ...(m.rh === undefined ? {} : { rh: m.rh }) });
      } catch (err) {
        refuse(m.user_id, err, true);
      }
    }
    const known = new Set(room.historyItems().map((m) => m.id));
    for (const data of orphans) {
      if (known.has(data.id)) continue;
      room.relay(data);
      this.emit(state, { k: 'msg', data });
    }
    this.sendSnapshot(state, from);
  }

  /**
   * Sequencer: the whole room (members, held names, the newest history that fits) for one
   * daemon. Members' recent message ids share a quarter of the payload (the newest first).
   */
  private sendSnapshot(state: SharedRoomState, to: string): void {
    const { room } = state;
    const each = midsEach(room.memberCount + room.heldNames);
    const all: ClusterMember[] = room.memberList().map((m) => ({
      ...m,
      node: state.owners.get(m.user_id) ?? this.nodeId,
      ...this.resumableOf(room, m.user_id, each),
    }));
    const held: HeldEntry[] = room.heldList(each).map((h) => ({
      user_id: h.userId,
      username: h.username,
      rh: b64hash(h.resumeHash),
      mids: h.sent,
      ms: h.msLeft,
    }));
    const used = JSON.stringify(all).length + JSON.stringify(held).length;
    const history = newestThatFit(room.historyItems(), PAYLOAD_BUDGET - used);
    this.request(room, { t: 'snap', to, seq: state.seq, members: all, history, held });
  }

  /** A numbered change from the sequencer. */
  private onChange(state: SharedRoomState, seq: number, ev: RoomChange, from: string): void {
    if (from !== this.sequencer || this.isSequencer()) return;
    if (state.source !== from || seq <= state.seq) {
      if (state.source !== from && Date.now() - state.syncAskedAt > this.options.heartbeatMs) {
        this.askSnapshot(state);
      }
      return;
    }
    if (seq !== state.seq + 1) {
      // A change went missing: start over from a snapshot.
      state.source = undefined;
      this.askSnapshot(state);
      return;
    }
    state.seq = seq;
    this.apply(state, ev);
  }

  private apply(state: SharedRoomState, ev: RoomChange): void {
    const { room } = state;
    switch (ev.k) {
      case 'join':
        this.applyJoin(state, ev);
        return;
      case 'leave':
        state.owners.delete(ev.user_id);
        room.leave(ev.user_id, ev.hold_ms !== undefined, ev.hold_ms ?? 0, false);
        this.dropLocal(state, ev.user_id, 'internal');
        this.registry.releaseIfEmpty(room);
        return;
      case 'release':
        room.releaseHeld(ev.user_id);
        return;
      case 'msg':
        if (ev.mid !== undefined) room.rememberSent(ev.data.user_id, ev.mid);
        room.relay(ev.data);
        return;
      case 'clear':
        room.wipe(ev.by);
        return;
      case 'nick':
        room.applyRename(ev.user_id, ev.username);
        return;
    }
  }

  private applyJoin(state: SharedRoomState, m: ClusterMember & { resumes?: string }): void {
    const { room } = state;
    if (room.has(m.user_id)) return;
    // A member taking its name back: its old connection leaves (closed `replaced` if it is
    // here), or its held name is released; its recent message ids carry over.
    const carried = m.resumes === undefined ? undefined : room.takeOver(m.resumes);
    if (m.resumes !== undefined) {
      state.owners.delete(m.resumes);
      this.dropLocal(state, m.resumes, 'replaced');
    }
    const hash = m.rh === undefined ? undefined : hashOf(m.rh);
    const resume = (
      secret?: string,
    ): { resumable: boolean; sent?: RecentIds; issued?: { hash: Buffer; secret?: string } } =>
      hash === undefined
        ? { resumable: false }
        : {
            resumable: true,
            sent: carried?.sent ?? RecentIds.from(m.mids ?? []),
            issued: secret === undefined ? { hash } : { hash, secret },
          };
    state.owners.set(m.user_id, m.node);
    if (m.node !== this.nodeId) {
      room.admit(placeholder(m.user_id), m.username, m.card, undefined, resume());
      return;
    }
    const pending = state.pending.get(m.user_id);
    if (!pending) {
      // Its client left before the answer: the sequencer must drop it again.
      room.admit(placeholder(m.user_id), m.username, m.card, undefined, resume());
      this.request(room, { t: 'leave', user_id: m.user_id });
      return;
    }
    state.pending.delete(m.user_id);
    const secret = pending.issued && hash?.equals(pending.issued.hash) ? pending.issued.secret : undefined;
    room.admit(pending.peer, m.username, m.card, undefined, resume(secret));
    state.local.set(m.user_id, pending.peer);
    pending.done(undefined);
  }

  private onRefuse(state: SharedRoomState, event: { user_id: string; code: string; kick: boolean }): void {
    const code = isErrorCode(event.code) ? event.code : 'internal';
    const pending = state.pending.get(event.user_id);
    if (pending) {
      state.pending.delete(event.user_id);
      pending.done(new ProtocolError(code));
      return;
    }
    const peer = state.local.get(event.user_id);
    if (!peer) return;
    if (event.kick) {
      this.logger.info(`cluster: a member was refused on resynchronisation (${code})`);
      this.dropLocal(state, event.user_id, code);
      return;
    }
    peer.sendSerialized(JSON.stringify({ type: 'error', code, message: new ProtocolError(code).message }));
  }

  /** The sequencer's whole room: this replica becomes it, telling members what changed. */
  private onSnapshot(
    state: SharedRoomState,
    snap: { seq: number; members: ClusterMember[]; history: MessageData[]; held: HeldEntry[] },
    from: string,
  ): void {
    const { room } = state;
    // Messages this daemon's members missed go out first, in order; the history becomes the sequencer's.
    const had = new Set(room.historyItems().map((m) => m.id));
    room.replaceHistory(snap.history);
    for (const data of snap.history) if (!had.has(data.id)) room.broadcast({ type: 'message', data });
    const wanted = new Map(snap.members.map((m) => [m.user_id, m]));
    for (const m of room.memberList()) {
      if (wanted.has(m.user_id)) continue;
      state.owners.delete(m.user_id);
      room.leave(m.user_id);
      this.dropLocal(state, m.user_id, 'internal');
    }
    for (const m of snap.members) {
      const current = room.member(m.user_id);
      if (!current) this.applyJoin(state, m);
      else {
        state.owners.set(m.user_id, m.node);
        if (current.username !== m.username) room.applyRename(m.user_id, m.username);
      }
      if (m.rh !== undefined) room.setContinuity(m.user_id, hashOf(m.rh), m.mids ?? []);
    }
    room.restoreHeld(
      snap.held.map((h) => ({
        userId: h.user_id,
        username: h.username,
        resumeHash: hashOf(h.rh),
        sent: h.mids,
        msLeft: h.ms,
      })),
    );
    state.source = from;
    state.seq = snap.seq;
    state.numbered.clear();
    // Joins the snapshot does not hold may have been lost on the way.
    this.askJoinsAgain(state);
    this.registry.releaseIfEmpty(room);
  }

  // ---- Control: announcements, failures, open rooms ----

  private hello(want: boolean): void {
    this.bus.publishControl({ t: 'hello', started: this.membership.started, want, config: this.config });
  }

  /** Static rooms (name, salts, verifier) hashed in name order; nothing secret leaves in clear. */
  private configDigest(): string {
    const hash = createHash('sha256');
    const rooms = [...this.registry.all()].filter((r) => r.kind === 'static');
    rooms.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    for (const r of rooms) {
      const c = r.credentials;
      hash.update(`${JSON.stringify(r.name)}\0${b64(c.salt)}\0${b64(c.verifier)}\0${b64(c.roomSalt)}\n`);
    }
    return hash.digest('hex').slice(0, 32);
  }

  private onControl(raw: BusEvent, from: string): void {
    if (this.closed) return;
    const event: ControlEvent | undefined = parseControlEvent(raw);
    if (!event) return;
    switch (event.t) {
      case 'hello': {
        const fresh = this.membership.heard(from, event.started, Date.now());
        if (event.config !== this.config && this.membership.isLive(from) && !this.warnedConfig.has(from)) {
          if (this.warnedConfig.size >= 64) this.warnedConfig.clear();
          this.warnedConfig.add(from);
          this.logger.info(
            `cluster: WARNING: daemon ${short(from)} has other rooms or room passwords than this one: ` +
              'its members and ours cannot share those rooms; start every daemon with the same --room/--rooms-file',
          );
        }
        if (event.want) {
          // A daemon starting or back from an outage: tell it who we are and which rooms exist.
          this.hello(false);
          this.publishRooms();
        }
        if (fresh) {
          this.logger.info(`cluster: daemon ${short(from)} is live (${this.membership.size} live)`);
          this.onLiveChange();
        }
        return;
      }
      case 'bye':
        if (this.membership.forget(from)) {
          this.logger.info(`cluster: daemon ${short(from)} stopped (${this.membership.size} live)`);
          this.onLiveChange();
        }
        return;
      case 'rooms':
        for (const shared of event.rooms) this.learnRoom(shared);
        return;
    }
  }

  private tick(): void {
    if (this.closed) return;
    this.hello(false);
    // A tick that comes late (this process was starved or suspended) blames no other daemon
    // for the silence: what they sent may still wait in this process's own queue.
    const late = Date.now() - this.lastTick > 2 * this.options.heartbeatMs;
    this.lastTick = Date.now();
    const dead = late ? [] : this.membership.sweep(Date.now());
    for (const node of dead) {
      this.logger.info(`cluster: daemon ${short(node)} went silent (${this.membership.size} live)`);
    }
    if (dead.length > 0) this.onLiveChange();
    if (this.isSequencer()) this.releaseDueHolds();
    if (this.isSequencer() || !this.busUp) return;
    const now = Date.now();
    for (const state of this.states.values()) {
      if (state.source !== this.sequencer && now - state.syncAskedAt > 2 * this.options.heartbeatMs) {
        this.askSnapshot(state);
      }
    }
  }

  private onBusState(state: 'up' | 'down'): void {
    if (this.closed) return;
    this.busUp = state === 'up';
    if (state === 'down') {
      // Alone: this daemon sequences its rooms for its own members until the bus is back.
      this.membership.clear();
      this.onLiveChange();
    } else {
      this.hello(true);
    }
  }

  /** The set of live daemons changed: a new sequencer takes over, the dead lose their members. */
  private onLiveChange(): void {
    // Still starting: start() picks the sequencer once the others have answered.
    if (this.sequencer === '') return;
    const previous = this.sequencer;
    this.sequencer = this.membership.sequencer();
    if (previous !== this.sequencer) {
      this.logger.info(
        `cluster: ${this.isSequencer() ? 'this daemon' : `daemon ${short(this.sequencer)}`} now sequences the rooms`,
      );
    }
    if (!this.isSequencer()) {
      if (previous !== this.sequencer) for (const state of this.states.values()) this.askSnapshot(state);
      return;
    }
    for (const state of [...this.states.values()]) {
      state.source = this.nodeId;
      // Members of a daemon gone (or out of reach) reconnect elsewhere: their names are held.
      for (const [userId, node] of [...state.owners]) {
        if (!this.membership.isLive(node)) this.removeMember(state, userId, true);
      }
      // Joins that were waiting for the previous sequencer are decided here now.
      for (const [userId, p] of [...state.pending]) {
        state.pending.delete(userId);
        this.decideJoin(state.room, p);
      }
    }
    // Names held under the previous sequencer are released here when due.
    this.releaseDueHolds();
  }

  private describe(room: Room): SharedRoom {
    const c = room.credentials;
    return {
      name: room.name,
      salt: b64(c.salt),
      verifier: b64(c.verifier),
      room_salt: b64(c.roomSalt),
      creator: this.creators.get(room.name) ?? this.nodeId,
    };
  }

  private publishRooms(): void {
    const open = [...this.registry.all()].filter((r) => r.kind === 'open').map((r) => this.describe(r));
    for (let i = 0; i < open.length; i += ROOMS_PER_EVENT) {
      this.bus.publishControl({ t: 'rooms', rooms: open.slice(i, i + ROOMS_PER_EVENT) });
    }
  }

  /**
   * An open room created on another daemon. Two daemons creating one name at once: the room
   * whose creator has the lower id wins everywhere; members of the other one are dropped.
   */
  private learnRoom(shared: SharedRoom): void {
    let name: string;
    try {
      name = normalizeRoomName(shared.name);
    } catch {
      return;
    }
    const creds: RoomCredentials = {
      identity: Buffer.from(name, 'utf8'),
      salt: Buffer.from(shared.salt, 'base64'),
      verifier: Buffer.from(shared.verifier, 'base64'),
      roomSalt: Buffer.from(shared.room_salt, 'base64'),
    };
    const existing = this.registry.get(name);
    if (existing) {
      const same =
        existing.credentials.verifier.equals(creds.verifier) &&
        existing.credentials.salt.equals(creds.salt) &&
        existing.credentials.roomSalt.equals(creds.roomSalt);
      const creator = this.creators.get(name);
      if (same || existing.kind !== 'open' || creator === undefined || creator <= shared.creator) return;
      const state = this.states.get(name);
      if (state) for (const userId of [...state.local.keys()]) this.dropLocal(state, userId, 'auth_failed');
      if (state) for (const p of state.pending.values()) p.peer.close('auth_failed');
      this.registry.forget(existing);
    }
    try {
      const room = this.registry.registerCreated(name, creds);
      this.creators.set(name, shared.creator);
      const state = this.track(room);
      // The creator's first requests may have passed before this daemon listened on the new
      // room: a snapshot (sent after subscribing, so after it) tells the creator to ask again.
      if (this.isSequencer()) this.sendSnapshot(state, shared.creator);
    } catch {
      this.logger.info('cluster: an open room from another daemon was not taken (--max-rooms reached)');
    }
  }
}
