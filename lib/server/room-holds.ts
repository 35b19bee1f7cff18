/**
 * The names a room holds for this daemon's lost members: when a member's connection is lost
 * its name is held for its resume for the room's grace, unless the room already holds as many
 * names as it may have members or the member's source is at its quota (holds.ts); otherwise
 * released. No hold is ever evicted for another. Each hold this daemon took keeps its source's
 * quota share until the name table says it ended (resumed, released, expired).
 */
import type { NameChange, NameTable } from '../rooms/seam.js';
import type { RoomLimits, RoomMember } from './room-member.js';
import type { NameMirror } from './room-names.js';

export class RoomHolds {
  /** Holds this daemon took, by key: their source's quota share is given back when they end. */
  private readonly local = new Map<string, { source: string | undefined; revision: number }>();

  constructor(
    private readonly limits: RoomLimits,
    /** The room's names as this daemon sees them. */
    private readonly mirror: NameMirror,
    /** Tracks a name-table write (the room awaits them before letting go of its backing). */
    private readonly track: <T>(write: Promise<T>) => Promise<T>,
  ) {}

  /** A member gone from this daemon: its name held (`holdName`, when allowed) or released. */
  letGo(names: NameTable, member: RoomMember, holdName: boolean): void {
    const graceMs = this.limits.resumeGraceMs ?? 0;
    // Behind a proxy there is no source (''): holds are not counted per source then.
    const source = member.record.source === '' ? undefined : member.record.source;
    const canHold =
      holdName &&
      graceMs > 0 &&
      member.record.resume !== undefined &&
      this.mirror.heldCount < this.limits.maxMembersPerRoom &&
      (this.limits.holdQuota?.take(source) ?? true);
    if (!canHold) {
      void this.track(names.remove(member.key, member.revision));
      return;
    }
    const held = { ...member.record, username: member.username, state: 'held' as const };
    void this.track(names.hold(member.key, held, member.revision, graceMs)).then(
      (revision) => {
        const entry = this.mirror.get(member.key);
        // Taken (the quota share with it) unless the entry moved on already.
        if (revision !== undefined && (entry === undefined || entry.revision <= revision)) {
          this.local.set(member.key, { source, revision });
        } else this.limits.holdQuota?.give(source);
      },
      () => this.limits.holdQuota?.give(source),
    );
  }

  /** A change of the name table: a hold this daemon took that ended gives its share back. */
  changed(change: NameChange): void {
    const key = change.op === 'put' ? change.entry.key : change.key;
    const hold = this.local.get(key);
    if (hold && !(change.op === 'put' && change.entry.revision === hold.revision)) {
      this.local.delete(key);
      this.limits.holdQuota?.give(hold.source);
    }
  }

  /** The backing is gone: every share back. */
  clear(): void {
    for (const hold of this.local.values()) this.limits.holdQuota?.give(hold.source);
    this.local.clear();
  }
}
