/**
 * A fake bus for the room seam: one in-memory store (the authority, as JetStream would be)
 * shared by several daemons of one process, each through its own view whose requests and
 * deliveries take a random, independent time, whose append answers can be lost (the append
 * happened, the daemon only sees a timeout and retries with the same id) and which can be cut
 * off and healed. Ordering, de-duplication, holds and gaps across daemons are unit-tested on
 * it without a nats-server.
 */
import { MemoryRoomStore } from '../../lib/rooms/memory.js';
import type {
  Appended,
  LoggedEvent,
  LogLimits,
  LogPage,
  NameChange,
  NameEntry,
  NameRecord,
  NameTable,
  PageLimits,
  RoomBacking,
  RoomEvent,
  RoomLog,
  RoomStore,
} from '../../lib/rooms/seam.js';

/** The error a view's request fails with while it is cut off, or when its answer was lost. */
export class BusTimeout extends Error {
  constructor() {
    super('the bus did not answer in time');
  }
}

export class FakeRoomBus {
  readonly authority: MemoryRoomStore;

  constructor(limits: LogLimits) {
    this.authority = new MemoryRoomStore(limits);
  }

  /** A daemon's view of the bus; `maxDelayMs`: each request and delivery takes up to this. */
  view(maxDelayMs = 3): BusView {
    return new BusView(this.authority, maxDelayMs);
  }
}

/** One daemon's connection to the bus. */
export class BusView implements RoomStore {
  private cut = false;
  /** Appends whose answer is lost (they still happen). */
  loseAnswers = 0;
  private readonly deliveries: Array<() => void> = [];
  private delivering = false;

  constructor(
    private readonly authority: MemoryRoomStore,
    private readonly maxDelayMs: number,
  ) {}

  /** Cuts the view off: requests fail, deliveries are lost, until `heal`. */
  partition(): void {
    this.cut = true;
  }

  heal(): void {
    this.cut = false;
  }

  /** Runs `fn` on the authority after a random delay; fails while cut off. */
  request<T>(fn: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        if (this.cut) return reject(new BusTimeout());
        try {
          resolve(fn());
        } catch (err) {
          reject(err);
        }
      }, Math.random() * this.maxDelayMs);
    });
  }

  /** Delivers to this view's watchers in order, each after a random delay; lost while cut off. */
  deliver(fn: () => void): void {
    if (this.cut) return;
    this.deliveries.push(fn);
    if (this.delivering) return;
    this.delivering = true;
    const next = (): void => {
      const item = this.deliveries.shift();
      if (!item) {
        this.delivering = false;
        return;
      }
      setTimeout(() => {
        if (!this.cut) item();
        next();
      }, Math.random() * this.maxDelayMs);
    };
    next();
  }

  async open(roomKey: string): Promise<RoomBacking> {
    const backing = await this.request(() => this.authority.openNow(roomKey));
    return { log: new ViewLog(this, backing.log), names: new ViewNames(this, backing.names) };
  }

  close(roomKey: string): Promise<void> {
    return this.request(() => this.authority.closeNow(roomKey));
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

class ViewLog implements RoomLog {
  constructor(
    private readonly view: BusView,
    private readonly log: RoomLog & { appendNow(e: RoomEvent & { kind: 'message' }, id?: string): Appended },
  ) {}

  get epoch(): string {
    return this.log.epoch;
  }

  get lastSeq(): number {
    return this.log.lastSeq;
  }

  async append(event: RoomEvent & { kind: 'message' }, dedupeId?: string): Promise<Appended> {
    const answer = await this.view.request(() => this.log.appendNow(event, dedupeId));
    if (this.view.loseAnswers > 0) {
      this.view.loseAnswers--;
      throw new BusTimeout();
    }
    return answer;
  }

  wipe(by: string): Promise<LoggedEvent & { kind: 'wipe' }> {
    return this.view.request(() => this.log.wipe(by)).then((p) => p);
  }

  read(afterSeq: number, limits: PageLimits): Promise<LogPage> {
    return this.view.request(() => this.log.read(afterSeq, limits)).then((p) => p);
  }

  watch(listener: (event: LoggedEvent) => void): () => void {
    return this.log.watch((event) => this.view.deliver(() => listener(event)));
  }
}

class ViewNames implements NameTable {
  constructor(
    private readonly view: BusView,
    private readonly names: NameTable,
  ) {}

  get(key: string): Promise<NameEntry | undefined> {
    return this.view.request(() => this.names.get(key)).then((p) => p);
  }

  list(): Promise<NameEntry[]> {
    return this.view.request(() => this.names.list()).then((p) => p);
  }

  create(key: string, record: NameRecord): Promise<number | undefined> {
    return this.view.request(() => this.names.create(key, record)).then((p) => p);
  }

  update(key: string, record: NameRecord, revision: number): Promise<number | undefined> {
    return this.view.request(() => this.names.update(key, record, revision)).then((p) => p);
  }

  hold(
    key: string,
    record: NameRecord & { state: 'held' },
    revision: number,
    holdMs: number,
  ): Promise<number | undefined> {
    return this.view.request(() => this.names.hold(key, record, revision, holdMs)).then((p) => p);
  }

  remove(key: string, revision: number): Promise<boolean> {
    return this.view.request(() => this.names.remove(key, revision)).then((p) => p);
  }

  watch(listener: (change: NameChange) => void): () => void {
    return this.names.watch((change) => this.view.deliver(() => listener(change)));
  }
}
