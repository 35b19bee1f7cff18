/**
 * The room seam in memory: one process, no NATS (the default backing of `serve`). A room's log
 * keeps its last events within the resume window (events and characters per room, and a
 * daemon-wide character budget), remembers de-duplication ids for at least what it holds and
 * two minutes, and keeps where each wipe cut so readers are told `wiped` apart from `lost`.
 * Holds expire on a local timer (Node's timers are monotonic). Everything answers at once;
 * the promises only keep the shape of the seam.
 */
import { randomBytes } from 'node:crypto';
import { SharedBudget, type Shrinkable } from './budget.js';
import { Fifo } from './fifo.js';
import type {
  Appended,
  DirectChannel,
  LoggedEvent,
  LogLimits,
  LogPage,
  Missing,
  NameChange,
  NameEntry,
  NameRecord,
  NameTable,
  PageLimits,
  RoomBacking,
  RoomEvent,
  RoomLog,
  RoomStore,
} from './seam.js';

/** De-duplication ids are remembered at least this long (JetStream's default window). */
export const DEDUPE_WINDOW_MS = 120_000;
/** At most this many ids beyond the events held are remembered per room (a bound on memory). */
export const DEDUPE_EXTRA_IDS = 8192;
/** Wipes remembered per room for telling wiped from lost (older ones count as lost). */
export const WIPES_REMEMBERED = 64;

/** The characters an event counts for in the retention and the budget. */
function charsOf(event: RoomEvent): number {
  return event.kind === 'message' ? event.data.text.length : 0;
}

/** Where one wipe cut: it removed `[from, at)`, `at` being the wipe event's own number. */
interface WipeMark {
  from: number;
  at: number;
}

export class MemoryRoomLog implements RoomLog, Shrinkable {
  readonly epoch = randomBytes(8).toString('hex');
  private readonly events = new Fifo<LoggedEvent>();
  private chars = 0;
  private first = 1;
  private last = 0;
  private readonly wipes: WipeMark[] = [];
  /** De-duplication id → its event's number and when it was appended (insertion order = age). */
  private readonly ids = new Map<string, { seq: number; at: number }>();
  /**
   * The same ids in the order they came (each is set once): the oldest is found without
   * iterating the Map, which walks past every entry deleted since its last rehash.
   */
  private readonly idOrder = new Fifo<string>();
  private readonly watchers = new Set<(event: LoggedEvent) => void>();

  constructor(
    private readonly limits: LogLimits,
    private readonly budget?: SharedBudget,
    private readonly now: () => number = () => performance.now(),
  ) {
    budget?.stores.add(this);
  }

  get lastSeq(): number {
    return this.last;
  }

  /** Characters of message text held (Shrinkable). */
  get size(): number {
    return this.chars;
  }

  append(event: RoomEvent & { kind: 'message' }, dedupeId?: string): Promise<Appended> {
    return Promise.resolve(this.appendNow(event, dedupeId));
  }

  /** `append`, answered at once (for this backing's own helpers and tests). */
  appendNow(event: RoomEvent & { kind: 'message' }, dedupeId?: string): Appended {
    if (dedupeId !== undefined) {
      const known = this.ids.get(dedupeId);
      if (known) return { seq: known.seq, duplicate: true };
    }
    const logged: LoggedEvent = { ...event, seq: this.last + 1 };
    this.push(logged);
    if (dedupeId !== undefined) {
      this.ids.set(dedupeId, { seq: logged.seq, at: this.now() });
      this.idOrder.push(dedupeId);
      this.forgetIds();
    }
    this.notify(logged);
    return { seq: logged.seq, duplicate: false };
  }

  wipe(by: string): Promise<LoggedEvent & { kind: 'wipe' }> {
    let wiped = 0;
    for (const e of this.events) if (e.kind === 'message') wiped++;
    const from = this.first;
    this.drop(this.events.length);
    const at = this.last + 1;
    this.wipes.push({ from, at });
    if (this.wipes.length > WIPES_REMEMBERED) this.wipes.shift();
    const event: LoggedEvent & { kind: 'wipe' } = { kind: 'wipe', by, wiped, seq: at };
    this.push(event);
    this.notify(event);
    return Promise.resolve(event);
  }

  read(afterSeq: number, limits: PageLimits): Promise<LogPage> {
    return Promise.resolve(this.readNow(afterSeq, limits));
  }

  /** `read`, answered at once. */
  readNow(afterSeq: number, limits: PageLimits): LogPage {
    const from = Math.max(afterSeq + 1, this.first);
    const missing = this.missing(afterSeq + 1, this.first);
    const events: LoggedEvent[] = [];
    let chars = 0;
    for (let i = from - this.first; i < this.events.length && events.length < limits.maxEvents; i++) {
      const event = this.events.at(i) as LoggedEvent;
      const c = charsOf(event);
      if (events.length > 0 && chars + c > limits.maxChars) break;
      chars += c;
      events.push(event);
    }
    return { epoch: this.epoch, events, firstSeq: this.first, lastSeq: this.last, ...missing };
  }

  watch(listener: (event: LoggedEvent) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** Drops the oldest event (retention, or the daemon-wide budget). */
  dropOldest(): void {
    this.drop(1);
  }

  /** Leaves the daemon-wide budget and forgets everything (the room is gone). */
  dispose(): void {
    this.drop(this.events.length);
    this.budget?.stores.delete(this);
    this.watchers.clear();
    this.ids.clear();
    this.idOrder.clear();
  }

  /**
   * The messages numbered in `[from, to)` that are gone: those inside a remembered wipe's cut
   * are `wiped`, the other messages `lost`; wipe events themselves count in neither.
   */
  private missing(from: number, to: number): Missing {
    if (from >= to) return { lost: 0, wiped: 0 };
    let wiped = 0;
    let wipeEvents = 0;
    for (const w of this.wipes) {
      if (w.at >= from && w.at < to) wipeEvents++;
      const lo = Math.max(w.from, from);
      const hi = Math.min(w.at, to);
      if (hi <= lo) continue;
      // An earlier wipe's own event may lie inside this cut: it was not a message.
      const inner = this.wipes.filter((o) => o !== w && o.at >= lo && o.at < hi).length;
      wiped += hi - lo - inner;
    }
    return { lost: to - from - wiped - wipeEvents, wiped };
  }

  private push(event: LoggedEvent): void {
    this.events.push(event);
    this.last = event.seq;
    const c = charsOf(event);
    this.chars += c;
    if (this.budget) this.budget.used += c;
    while (
      this.events.length > this.limits.maxEvents ||
      (this.chars > this.limits.maxChars && this.events.length > 1)
    ) {
      this.drop(1);
    }
    this.budget?.enforce();
  }

  private drop(count: number): void {
    // A Fifo, not splice(0, n) on an array: that copied the whole log for every message
    // dropped (about 28 µs a message with 6,000 events held).
    for (let n = 0; n < count; n++) {
      const e = this.events.shift();
      if (e === undefined) break;
      const c = charsOf(e);
      this.chars -= c;
      if (this.budget) this.budget.used -= c;
      this.first++;
    }
  }

  /** Forgets ids whose event is gone and older than the window, and any beyond the bound. */
  private forgetIds(): void {
    const oldest = this.now() - DEDUPE_WINDOW_MS;
    const bound = this.events.length + DEDUPE_EXTRA_IDS;
    while (this.idOrder.length > 0) {
      const id = this.idOrder.at(0)!;
      const { seq, at } = this.ids.get(id)!;
      if (this.ids.size <= bound && (seq >= this.first || at > oldest)) break;
      this.ids.delete(id);
      this.idOrder.shift();
    }
  }

  private notify(event: LoggedEvent): void {
    for (const listener of [...this.watchers]) listener(event);
  }
}

export class MemoryNameTable implements NameTable {
  private readonly entries = new Map<
    string,
    { record: NameRecord; revision: number; timer?: NodeJS.Timeout }
  >();
  private revision = 0;
  private readonly watchers = new Set<(change: NameChange) => void>();

  get(key: string): Promise<NameEntry | undefined> {
    return Promise.resolve(this.getNow(key));
  }

  /** `get`, answered at once. */
  getNow(key: string): NameEntry | undefined {
    const e = this.entries.get(key);
    return e && { key, record: e.record, revision: e.revision };
  }

  list(): Promise<NameEntry[]> {
    return Promise.resolve(this.listNow());
  }

  /** `list`, answered at once. */
  listNow(): NameEntry[] {
    return [...this.entries].map(([key, e]) => ({ key, record: e.record, revision: e.revision }));
  }

  create(key: string, record: NameRecord): Promise<number | undefined> {
    return Promise.resolve(this.createNow(key, record));
  }

  /** `create`, answered at once. */
  createNow(key: string, record: NameRecord): number | undefined {
    if (this.entries.has(key)) return undefined;
    return this.put(key, record);
  }

  update(key: string, record: NameRecord, revision: number): Promise<number | undefined> {
    return Promise.resolve(this.updateNow(key, record, revision));
  }

  /** `update`, answered at once. */
  updateNow(key: string, record: NameRecord, revision: number): number | undefined {
    if (this.entries.get(key)?.revision !== revision) return undefined;
    return this.put(key, record);
  }

  hold(
    key: string,
    record: NameRecord & { state: 'held' },
    revision: number,
    holdMs: number,
  ): Promise<number | undefined> {
    return Promise.resolve(this.holdNow(key, record, revision, holdMs));
  }

  /** `hold`, answered at once. */
  holdNow(
    key: string,
    record: NameRecord & { state: 'held' },
    revision: number,
    holdMs: number,
  ): number | undefined {
    const rev = this.updateNow(key, record, revision);
    if (rev === undefined) return undefined;
    const entry = this.entries.get(key);
    if (entry) {
      entry.timer = setTimeout(() => this.expire(key, rev), holdMs);
      entry.timer.unref();
    }
    return rev;
  }

  remove(key: string, revision: number): Promise<boolean> {
    return Promise.resolve(this.removeNow(key, revision));
  }

  /** `remove`, answered at once. */
  removeNow(key: string, revision: number): boolean {
    const e = this.entries.get(key);
    if (e?.revision !== revision) return false;
    clearTimeout(e.timer);
    this.entries.delete(key);
    this.notify({ op: 'delete', key, previous: e.record, why: 'released' });
    return true;
  }

  watch(listener: (change: NameChange) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** Stops every hold's timer and forgets every name (the room is gone). */
  dispose(): void {
    for (const e of this.entries.values()) clearTimeout(e.timer);
    this.entries.clear();
    this.watchers.clear();
  }

  private put(key: string, record: NameRecord): number {
    const previous = this.entries.get(key);
    clearTimeout(previous?.timer);
    const revision = ++this.revision;
    this.entries.set(key, { record, revision });
    const entry = { key, record, revision };
    this.notify(previous ? { op: 'put', entry, previous: previous.record } : { op: 'put', entry });
    return revision;
  }

  private expire(key: string, revision: number): void {
    const e = this.entries.get(key);
    if (e?.revision !== revision) return;
    this.entries.delete(key);
    this.notify({ op: 'delete', key, previous: e.record, why: 'expired' });
  }

  private notify(change: NameChange): void {
    for (const listener of [...this.watchers]) listener(change);
  }
}

/**
 * Private messages between the rooms sharing this backing: with one daemon every member is
 * local and this is never used; daemons sharing one store in a process (tests) meet here.
 */
export class MemoryDirectChannel implements DirectChannel {
  private readonly watchers = new Set<(toUserId: string, json: string) => void>();

  send(toUserId: string, json: string): void {
    for (const listener of [...this.watchers]) listener(toUserId, json);
  }

  watch(listener: (toUserId: string, json: string) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }
}

/** A room backing in memory (its parts typed as such, for the daemon's own synchronous use). */
export interface MemoryRoomBacking extends RoomBacking {
  readonly log: MemoryRoomLog;
  readonly names: MemoryNameTable;
  readonly direct: MemoryDirectChannel;
}

export class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, MemoryRoomBacking>();
  private readonly budget: SharedBudget | undefined;

  /** `totalChars`: the daemon-wide bound on the message characters of all logs (0 = none). */
  constructor(
    private readonly limits: LogLimits,
    totalChars = 0,
  ) {
    this.budget = totalChars > 0 ? new SharedBudget(totalChars) : undefined;
  }

  open(roomKey: string): Promise<MemoryRoomBacking> {
    return Promise.resolve(this.openNow(roomKey));
  }

  /** `open`, answered at once. */
  openNow(roomKey: string): MemoryRoomBacking {
    let backing = this.rooms.get(roomKey);
    if (!backing) {
      backing = {
        log: new MemoryRoomLog(this.limits, this.budget),
        names: new MemoryNameTable(),
        direct: new MemoryDirectChannel(),
      };
      this.rooms.set(roomKey, backing);
    }
    return backing;
  }

  close(roomKey: string): Promise<void> {
    this.closeNow(roomKey);
    return Promise.resolve();
  }

  /** `close`, at once. */
  closeNow(roomKey: string): void {
    const backing = this.rooms.get(roomKey);
    if (!backing) return;
    this.rooms.delete(roomKey);
    backing.log.dispose();
    backing.names.dispose();
  }

  dispose(): Promise<void> {
    for (const key of [...this.rooms.keys()]) this.closeNow(key);
    return Promise.resolve();
  }
}
