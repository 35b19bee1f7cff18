/**
 * A room's names as this daemon sees them: a mirror of the room's `NameTable` (lib/rooms),
 * fed by its watch, and what each change means to the members (someone joined, left, was
 * replaced by its own resume, renamed). Every daemon of a cluster derives presence from the
 * same ordered changes, so members everywhere see one membership.
 */
import type { NameChange, NameEntry, NameRecord } from '../rooms/seam.js';

/** What a change of the table means to the room's members. */
export type PresenceChange =
  | { kind: 'joined'; key: string; record: NameRecord }
  | {
      kind: 'left';
      key: string;
      record: NameRecord;
      /**
       * 'held': its connection was taken for lost; 'replaced': its owner resumed on another
       * connection; 'released' / 'expired': the name went (a goodbye, a hold or a lease ran out).
       */
      why: 'held' | 'replaced' | 'released' | 'expired';
    }
  | { kind: 'renamed'; key: string; record: NameRecord; old: string };

export class NameMirror {
  private readonly entries = new Map<string, NameEntry>();
  /** Present members: user id → key. */
  private readonly present = new Map<string, string>();

  /** Takes in entries listed when the room was opened (older than any change seen since). */
  seed(entries: readonly NameEntry[]): void {
    for (const entry of entries) {
      const known = this.entries.get(entry.key);
      if (known && known.revision >= entry.revision) continue;
      this.apply({ op: 'put', entry });
    }
  }

  /** Forgets everything (the room's backing is gone). */
  clear(): void {
    this.entries.clear();
    this.present.clear();
  }

  /** Applies one change; returns what the members must be told, in order. */
  apply(change: NameChange): PresenceChange[] {
    const out: PresenceChange[] = [];
    if (change.op === 'delete') {
      const prev = this.entries.get(change.key);
      if (!prev) return out;
      this.entries.delete(change.key);
      if (prev.record.state === 'present' && this.present.get(prev.record.userId) === change.key) {
        this.present.delete(prev.record.userId);
        out.push({ kind: 'left', key: change.key, record: prev.record, why: change.why });
      }
      return out;
    }
    const { entry } = change;
    const prev = this.entries.get(entry.key);
    // A change older than what the mirror holds (a listing raced the watch) changes nothing.
    if (prev && prev.revision >= entry.revision) return out;
    this.entries.set(entry.key, entry);
    const record = entry.record;
    const before = prev?.record;
    const samePresent = before?.state === 'present' && before.userId === record.userId;
    if (before?.state === 'present' && !(record.state === 'present' && samePresent)) {
      if (this.present.get(before.userId) === entry.key) {
        this.present.delete(before.userId);
        out.push({
          kind: 'left',
          key: entry.key,
          record: before,
          why: record.state === 'held' ? 'held' : 'replaced',
        });
      }
    }
    if (record.state !== 'present' || samePresent) return out;
    const oldKey = this.present.get(record.userId);
    this.present.set(record.userId, entry.key);
    if (oldKey !== undefined && oldKey !== entry.key) {
      // A rename claims the new key before it releases the old one.
      const old = this.entries.get(oldKey)?.record.username ?? record.username;
      out.push({ kind: 'renamed', key: entry.key, record, old });
    } else out.push({ kind: 'joined', key: entry.key, record });
    return out;
  }

  get(key: string): NameEntry | undefined {
    return this.entries.get(key);
  }

  /** The present record of a member by its user id. */
  recordOf(userId: string): NameRecord | undefined {
    const key = this.present.get(userId);
    return key === undefined ? undefined : this.entries.get(key)?.record;
  }

  /** Members present (on every daemon). */
  get presentCount(): number {
    return this.present.size;
  }

  /** Names held for lost connections. */
  get heldCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.record.state === 'held') n++;
    return n;
  }

  /** The present members' records, in the order they were first seen. */
  presentRecords(): NameRecord[] {
    const out: NameRecord[] = [];
    for (const key of this.present.values()) {
      const record = this.entries.get(key)?.record;
      if (record) out.push(record);
    }
    return out;
  }
}
