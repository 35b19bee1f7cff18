/**
 * A room's name table on a JetStream KV bucket (the `NameTable` of lib/rooms/seam.ts). One
 * bucket serves every room of the cluster: a key is `<room id>.<keyed hash of the name's
 * class>`, so NATS sees neither room nor name, and every write is a compare-and-set on the
 * key's revision (create, update by revision, delete by revision). The value, sealed with
 * the key as associated data (an entry copied under another key does not open), holds the
 * seam's key, the record, and the lease the claim rests on (lib/cluster/leases.ts). A daemon
 * keeps a mirror of the rooms it has open from a KV watch, tells watchers every change, and
 * sweeps: a present name whose daemon's lease is gone becomes held; a held name whose hold
 * key is gone is purged (`why: 'expired'`). A lease is taken for gone only when two sweeps in
 * a row miss it, so a replica that lags behind its leader cannot release a fresh claim.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { NameChange, NameEntry, NameRecord, NameTable } from '../rooms/seam.js';
import { type ClusterKeys, keyedHex } from './keys.js';
import type { LeaseRef, Leases } from './leases.js';
import { openJson, sealJson } from './seal.js';

interface Stored {
  key: string;
  record: NameRecord;
  lease: LeaseRef;
}

export interface NameBucketOptions {
  keys: ClusterKeys;
  kv: KV;
  leases: Leases;
  /** The keyed id of the room (lib/cluster/keys.ts roomLogNames). */
  roomId: string;
  /** How long a name whose daemon died is held for its member's resume (ms). */
  holdMs: number;
}

export class NameBucket implements NameTable {
  private readonly mirror = new Map<string, { stored: Stored; revision: number }>();
  private readonly listeners = new Set<(change: NameChange) => void>();
  /** Leases missed by the last sweep: gone if the next one misses them too. */
  private suspects = new Set<LeaseRef>();
  private stopWatch: (() => void) | undefined;
  private sweeping = false;

  constructor(private readonly options: NameBucketOptions) {}

  /** Starts mirroring the room's names (the current ones, then every change). */
  async start(): Promise<void> {
    const iterator = await this.options.kv.watch({ key: `${this.options.roomId}.>` });
    this.stopWatch = () => iterator.stop();
    void (async () => {
      for await (const entry of iterator) this.take(entry);
    })().catch(() => undefined);
  }

  stop(): void {
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  async get(key: string): Promise<NameEntry | undefined> {
    const entry = await this.options.kv.get(this.kvKey(key));
    if (entry?.operation !== 'PUT') return undefined;
    const stored = this.open(entry);
    return stored ? { key: stored.key, record: stored.record, revision: entry.revision } : undefined;
  }

  async list(): Promise<NameEntry[]> {
    const keys = await this.options.kv.keys(`${this.options.roomId}.>`);
    const result: NameEntry[] = [];
    for await (const k of keys) {
      const entry = await this.options.kv.get(k);
      if (entry?.operation !== 'PUT') continue;
      const stored = this.open(entry);
      if (stored) result.push({ key: stored.key, record: stored.record, revision: entry.revision });
    }
    return result;
  }

  async create(key: string, record: NameRecord): Promise<number | undefined> {
    const stored: Stored = { key, record, lease: this.options.leases.own };
    return this.options.kv.create(this.kvKey(key), this.seal(stored)).catch(() => undefined);
  }

  async update(key: string, record: NameRecord, revision: number): Promise<number | undefined> {
    const before = this.mirror.get(this.kvKey(key));
    const stored: Stored = { key, record, lease: this.options.leases.own };
    const next = await this.options.kv
      .update(this.kvKey(key), this.seal(stored), revision)
      .catch(() => undefined);
    if (next !== undefined && before?.stored.lease.startsWith('h:'))
      await this.options.leases.dropHold(before.stored.lease);
    return next;
  }

  async hold(
    key: string,
    record: NameRecord & { state: 'held' },
    revision: number,
    _holdMs: number,
  ): Promise<number | undefined> {
    // `holdMs` is clamped to the store's hold time: the holds bucket's TTL (KV in nats-server
    // 2.9 has no TTL per key), set once from --resume-grace and aged by the server's clock.
    const lease = await this.options.leases.hold();
    const stored: Stored = { key, record, lease };
    const next = await this.options.kv
      .update(this.kvKey(key), this.seal(stored), revision)
      .catch(() => undefined);
    if (next === undefined) await this.options.leases.dropHold(lease);
    return next;
  }

  async remove(key: string, revision: number): Promise<boolean> {
    const before = this.mirror.get(this.kvKey(key));
    const done = await this.options.kv.delete(this.kvKey(key), { previousSeq: revision }).then(
      () => true,
      () => false,
    );
    if (done && before?.stored.lease.startsWith('h:'))
      await this.options.leases.dropHold(before.stored.lease);
    return done;
  }

  watch(listener: (change: NameChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * One sweep (the store runs it every so often): names of daemons that are gone become held,
   * holds that ran out are purged. Every write is a compare-and-set: of two daemons sweeping
   * at once, one does it and the other's write fails harmlessly.
   */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const missed = new Set<LeaseRef>();
      const checked = new Map<LeaseRef, boolean>();
      for (const [kvKey, { stored, revision }] of [...this.mirror]) {
        const lease = stored.lease;
        if (lease === this.options.leases.own) continue;
        let alive = checked.get(lease);
        if (alive === undefined) {
          alive = await this.options.leases.alive(lease).catch(() => true);
          checked.set(lease, alive);
        }
        if (alive) continue;
        missed.add(lease);
        if (!this.suspects.has(lease)) continue;
        if (stored.record.state === 'present') {
          await this.hold(stored.key, { ...stored.record, state: 'held' }, revision, this.options.holdMs);
        } else {
          await this.options.kv.purge(kvKey, { previousSeq: revision }).catch(() => undefined);
        }
      }
      this.suspects = missed;
    } finally {
      this.sweeping = false;
    }
  }

  /** Takes in one change from the KV watch: the mirror, then the watchers. */
  private take(entry: KvEntry): void {
    const previous = this.mirror.get(entry.key);
    if (entry.operation === 'PUT') {
      const stored = this.open(entry);
      if (!stored) return;
      this.mirror.set(entry.key, { stored, revision: entry.revision });
      const change: NameChange = {
        op: 'put',
        entry: { key: stored.key, record: stored.record, revision: entry.revision },
      };
      if (previous) change.previous = previous.stored.record;
      this.emit(change);
      return;
    }
    if (!previous) return;
    this.mirror.delete(entry.key);
    this.emit({
      op: 'delete',
      key: previous.stored.key,
      previous: previous.stored.record,
      why: entry.operation === 'PURGE' ? 'expired' : 'released',
    });
  }

  /** Forgets the whole mirror (the bucket started over with the server): every name is gone. */
  reset(): void {
    for (const { stored } of this.mirror.values()) {
      this.emit({ op: 'delete', key: stored.key, previous: stored.record, why: 'expired' });
    }
    this.mirror.clear();
    this.suspects.clear();
  }

  private emit(change: NameChange): void {
    for (const listener of this.listeners) listener(change);
  }

  private kvKey(key: string): string {
    return `${this.options.roomId}.${keyedHex(this.options.keys, 'name', [this.options.roomId, key])}`;
  }

  private seal(stored: Stored): Uint8Array {
    return sealJson(this.options.keys.sealKey, `name\0${this.kvKey(stored.key)}`, {
      k: stored.key,
      r: stored.record,
      l: stored.lease,
    });
  }

  private open(entry: KvEntry): Stored | undefined {
    const value = openJson(this.options.keys.sealKey, `name\0${entry.key}`, entry.value) as
      | { k?: unknown; r?: unknown; l?: unknown }
      | undefined;
    if (typeof value !== 'object' || value === null) return undefined;
    if (typeof value.k !== 'string' || typeof value.l !== 'string' || !/^[dh]:[0-9a-f]{32}$/.test(value.l)) {
      return undefined;
    }
    const record = parseRecord(value.r);
    if (!record || this.kvKey(value.k) !== entry.key) return undefined;
    return { key: value.k, record, lease: value.l as LeaseRef };
  }
}

function parseRecord(raw: unknown): NameRecord | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Partial<Record<keyof NameRecord, unknown>>;
  for (const field of ['username', 'userId', 'owner', 'source'] as const) {
    if (typeof r[field] !== 'string') return undefined;
  }
  if (r.state !== 'present' && r.state !== 'held') return undefined;
  if (r.card !== undefined && typeof r.card !== 'string') return undefined;
  const record: NameRecord = {
    username: r.username as string,
    userId: r.userId as string,
    owner: r.owner as string,
    source: r.source as string,
    state: r.state,
  };
  if (typeof r.card === 'string') record.card = r.card;
  if (r.resume !== undefined) {
    if (typeof r.resume !== 'string' || !/^[0-9a-f]{64}$/.test(r.resume)) return undefined;
    record.resume = r.resume;
  }
  return record;
}
