/**
 * The room seam: what a daemon needs from the place a room lives. A room is an ordered log of
 * its events (messages and wipes, numbered 1, 2, 3 … within the room) and a table of the names
 * in it (present or held), claimed by compare-and-set. The daemon (lib/server) sees only these
 * interfaces; `serve` picks one backing once: in memory (lib/rooms/memory.ts, one process) or
 * NATS JetStream (lib/cluster, many daemons). Everything here may be asynchronous, may fail,
 * and a failed `append` may be retried with the same id: de-duplication makes that safe.
 */
import type { MessageData } from '../protocol/frames.js';

/** What a room's log holds: a member's message, or a wipe (`/wipe`) of everything before it. */
export type RoomEvent =
  | { kind: 'message'; data: MessageData }
  /** `by`: the name of who wiped; `wiped`: how many messages the wipe removed (set by the log). */
  | { kind: 'wipe'; by: string; wiped: number };

/** An event as the log numbered it. */
export type LoggedEvent = RoomEvent & {
  /** 1 for the room's first event, then +1 per event of this room only (never a gap in numbering). */
  seq: number;
};

/** The answer to an append. */
export interface Appended {
  seq: number;
  /** True when the id was appended before (within the window): `seq` is the original's. */
  duplicate: boolean;
}

/** What a read cannot give back: the events between the cursor and `firstSeq` that are gone. */
export interface Missing {
  /** Messages dropped by retention (count or bytes limits), never delivered to this reader. */
  lost: number;
  /** Messages removed by a `/wipe` (the wipe event itself is not counted). */
  wiped: number;
}

/** One page of a read. */
export interface LogPage extends Missing {
  /** The log's epoch (see `RoomLog.epoch`). */
  epoch: string;
  /** Events after the cursor, oldest first, contiguous: `events[i].seq = events[0].seq + i`. */
  events: LoggedEvent[];
  /** The first sequence number the log still holds (lastSeq + 1 when it holds none). */
  firstSeq: number;
  /** The last sequence number appended so far (0: none yet). */
  lastSeq: number;
}

/** Bounds on one page of a read (a page must fit the reader's send queue). */
export interface PageLimits {
  maxEvents: number;
  /** Bound on the summed `data.text` characters of the messages of a page; one event always fits. */
  maxChars: number;
}

/** A room's ordered log. */
export interface RoomLog {
  /**
   * Identifies the current life of the log: a log that started over (a restarted daemon, a room that
   * emptied and was opened again, a recreated stream) has another epoch, and its numbering
   * restarts at 1. A cursor of another epoch is not a gap: its reader starts over.
   */
  readonly epoch: string;

  /**
   * Appends one event and resolves with its sequence number once the log holds it. `dedupeId`
   * (a string that the caller derives from the member's stable identity and its message id,
   * so two members' ids never collide) makes the append idempotent within the de-duplication
   * window: a second append with the same id appends nothing and resolves with the original's
   * `seq` and `duplicate: true`. May reject (timeout, backing gone): the caller retries with the
   * same id. Watchers see the event (once) whether or not this promise resolves first.
   * The window: at least the events the log holds and at least 2 minutes (JetStream's
   * `duplicate_window`); an id older than both may be appended again.
   */
  append(event: RoomEvent & { kind: 'message' }, dedupeId?: string): Promise<Appended>;

  /**
   * `/wipe`: appends a wipe event, then drops every event before it. The wipe event stays (it is
   * the first event the log holds afterwards, until retention drops it) and carries the count
   * of messages it removed; the log also keeps that count by sequence range (see `read`), so a
   * reader whose cursor lies before the wipe is told `wiped`, not `lost`, even after the wipe
   * event itself is gone.
   */
  wipe(by: string): Promise<LoggedEvent & { kind: 'wipe' }>;

  /**
   * The events after `afterSeq` (0: from the start), at most one page. History for a late
   * joiner and resume for a returning member are this same read. When the log no longer holds
   * `afterSeq + 1`, the page starts at `firstSeq` and `lost`/`wiped` count what lies between.
   * `afterSeq` beyond `lastSeq` (a cursor from the future: another epoch) is the caller's to
   * handle, by comparing epochs first.
   */
  read(afterSeq: number, limits: PageLimits): Promise<LogPage>;

  /**
   * Calls `listener` with every event appended from now on, in sequence order, each once, for
   * as long as the subscription lives. Returns the unsubscribe function. When the log starts
   * over while watched (a nats-server restart lost a memory stream: numbering restarts at 1),
   * `onEpoch` is called with the new epoch before its first event; `epoch` is then the new one
   * and every cursor of the old one means "start over".
   */
  watch(listener: (event: LoggedEvent) => void, onEpoch?: (epoch: string) => void): () => void;

  /** The last sequence number appended (0: none), as this process knows it now. */
  readonly lastSeq: number;
}

/** A name in a room, as the name table keeps it. */
export interface NameRecord {
  /** The name as shown (normalised). */
  username: string;
  /** The user id of the member's current (or last) connection. */
  userId: string;
  /** Opaque sealed member card, when the member gave one. */
  card?: string;
  /**
   * Who owns the name across connections: a random id kept across resumes, the prefix of the
   * log's de-duplication ids of the member's messages (so its resends are recognised).
   */
  owner: string;
  /**
   * Hex of the SHA-256 of the member's current resume secret (lib/server/resume.ts): whoever
   * offers that secret takes the name back, on any daemon. Absent: the member cannot resume.
   */
  resume?: string;
  /** Where the member connects from (an address class: the hold quota is counted per source). */
  source: string;
  /** 'present': connected now; 'held': its connection was lost, kept for its resume. */
  state: 'present' | 'held';
}

/** A record with the revision that a compare-and-set must name. */
export interface NameEntry {
  key: string;
  record: NameRecord;
  revision: number;
}

/** A change of the table, as a watcher sees it. */
export type NameChange =
  | { op: 'put'; entry: NameEntry; previous?: NameRecord }
  /** `why`: 'released' (by its owner or a takeover), 'expired' (a hold ran out, or a lease). */
  | { op: 'delete'; key: string; previous: NameRecord; why: 'released' | 'expired' };

/**
 * A room's names, keyed by the name's confusable class (`nameClass(username)` in
 * lib/protocol/names.ts): two names with one key cannot both be in the room. Every write is a
 * compare-and-set, so two daemons admitting `alice` at once cannot both succeed.
 */
export interface NameTable {
  /** The entry under `key`, or undefined. */
  get(key: string): Promise<NameEntry | undefined>;

  /** Every entry (a daemon's view of the room's members and held names). */
  list(): Promise<NameEntry[]>;

  /** Creates `key` when no entry has it: its revision, or undefined (the name is taken). */
  create(key: string, record: NameRecord): Promise<number | undefined>;

  /**
   * Replaces the entry under `key` if its revision is still `revision`: the new revision, or
   * undefined (someone else changed it first; read again and decide again). Used for a
   * resume (same owner, new connection), a rename's old key, and present ↔ held.
   */
  update(key: string, record: NameRecord, revision: number): Promise<number | undefined>;

  /**
   * Like `update` to a `held` record, which the table itself deletes (`why: 'expired'`) after
   * `holdMs` of the backing's own clock (a local monotonic timer, or the server's) unless
   * it was updated or removed first. Nobody else's activity removes a hold: only its owner
   * (by a resume or by `remove`) or the time.
   */
  hold(
    key: string,
    record: NameRecord & { state: 'held' },
    revision: number,
    holdMs: number,
  ): Promise<number | undefined>;

  /** Deletes the entry under `key` if its revision is still `revision`; whether it did. */
  remove(key: string, revision: number): Promise<boolean>;

  /** Calls `listener` with every change from now on, in order. Returns the unsubscribe function. */
  watch(listener: (change: NameChange) => void): () => void;
}

/**
 * Frames for one member wherever it is connected, never stored: private messages between
 * members of one room on different daemons (sealed on the NATS bus in a cluster; in memory it
 * only joins daemons that share one store in a process, as tests do).
 */
export interface DirectChannel {
  /** Hands a serialised frame to the daemon of member `toUserId`; fire and forget. */
  send(toUserId: string, json: string): void;
  /** Calls `listener` with every frame other daemons send to a member of this room. */
  watch(listener: (toUserId: string, json: string) => void): () => void;
}

/** One room's backing. */
export interface RoomBacking {
  readonly log: RoomLog;
  readonly names: NameTable;
  readonly direct?: DirectChannel;
}

/** Bounds a backing applies to every room's log (retention: the resume window). */
export interface LogLimits {
  /** Events kept per room (the resume window in events). */
  maxEvents: number;
  /** Characters of message text kept per room. */
  maxChars: number;
}

/** What a daemon needs to authenticate members of a room another daemon created (base64). */
export interface OpenRoomEntry {
  salt: string;
  verifier: string;
  roomSalt: string;
}

/**
 * Rooms that clients created (`--open-rooms`), known to every daemon sharing the store, so a
 * member can join one through any daemon. Only a store shared by daemons has one.
 */
export interface OpenRoomDirectory {
  /**
   * Records a room created here, by compare-and-set: undefined when recorded, else the entry
   * recorded first (another daemon's), which the caller adopts in place of its own.
   */
  announce(name: string, entry: OpenRoomEntry): Promise<OpenRoomEntry | undefined>;
  /** Forgets a room that nobody is in on any daemon (a later creation may take the name). */
  withdraw(name: string): Promise<void>;
  /** Calls `listener` with every recorded room now, then with every change (undefined: gone). */
  watch(listener: (name: string, entry: OpenRoomEntry | undefined) => void): () => void;
}

/** Where rooms live: chosen once by `serve`. */
export interface RoomStore {
  /** The open rooms shared with other daemons (absent: open rooms stay on their daemon). */
  readonly openRooms?: OpenRoomDirectory;

  /**
   * The backing of the room under `roomKey` (an opaque, stable key of the room: its name for
   * one daemon, an HMAC of it in a cluster), created when it does not exist. Opening the same
   * key twice gives the same room (same epoch) until `close`.
   */
  open(roomKey: string): Promise<RoomBacking>;

  /**
   * Forgets a room (an open room emptied): its log and names go, and a later `open` starts a
   * new epoch. A backing shared by daemons closes a room only when no daemon has it open.
   */
  close(roomKey: string): Promise<void>;

  /** Releases everything (the daemon stops). */
  dispose(): Promise<void>;
}
