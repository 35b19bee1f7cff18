/**
 * A member's claims on names in the room's name table, by compare-and-set. A join's: created
 * when free, or taken back with the resume secret of the member who holds it (present anywhere
 * or held; its owner id stays, so the log still recognises its resends); refused `busy` when
 * the room is full and `name_taken` when the name is someone else's or kept changing under the
 * claim. A rename's: the new name claimed before the old one is released.
 */
import { ProtocolError } from '../protocol/errors.js';
import { nameClass } from '../protocol/names.js';
import type { NameRecord, NameTable } from '../rooms/seam.js';
import { resumeHashesMatch } from './resume.js';
import type { RoomMember } from './room-member.js';

/** Compare-and-set rounds a join tries before it gives up (others kept changing the name). */
const CLAIM_ROUNDS = 3;

/** What a claim needs of its room. */
export interface ClaimRoom {
  /** Names present in the room now, on every daemon. */
  present(): number;
  maxMembers: number;
  /** Tracks a name-table write (the room awaits them before letting go of its backing). */
  track<T>(write: Promise<T>): Promise<T>;
}

/**
 * Claims `key` for `record` (whose `owner` becomes the holder's when taken back); `offered`:
 * the hash of the resume secret the member gave. Resolves with the entry's revision and
 * whether the member took its name back.
 */
export async function claimName(
  table: NameTable,
  key: string,
  record: NameRecord,
  offered: Buffer | undefined,
  room: ClaimRoom,
): Promise<{ revision: number; resumed: boolean }> {
  let revision: number | undefined;
  let resumed = false;
  for (let round = 0; round < CLAIM_ROUNDS && revision === undefined; round++) {
    const existing = await table.get(key);
    const takesBack =
      existing !== undefined &&
      offered !== undefined &&
      existing.record.resume !== undefined &&
      resumeHashesMatch(Buffer.from(existing.record.resume, 'hex'), offered);
    const replacing = takesBack && existing.record.state === 'present' ? 1 : 0;
    if (room.present() - replacing >= room.maxMembers) throw new ProtocolError('busy');
    if (existing && !takesBack) throw new ProtocolError('name_taken');
    if (existing) {
      // The owner's id stays: the log's de-duplication ids of its messages start with it.
      record.owner = existing.record.owner;
      revision = await room.track(table.update(key, record, existing.revision));
      resumed = revision !== undefined;
    } else revision = await room.track(table.create(key, record));
  }
  if (revision === undefined) throw new ProtocolError('name_taken');
  return { revision, resumed };
}

/**
 * Renames `member` to `username` (normalised): the new name is claimed before the old one is
 * released, so no one can take either in between; rejects `name_taken`. Resolves with the old
 * name when the key stayed (only the spelling changed: the room tells the members, no change
 * of key does), else undefined (the table's watch tells them).
 */
export async function claimRename(
  table: NameTable,
  member: RoomMember,
  username: string,
  track: <T>(write: Promise<T>) => Promise<T>,
): Promise<string | undefined> {
  const key = nameClass(username);
  const record: NameRecord = { ...member.record, username };
  if (key === member.key) {
    const revision = await track(table.update(key, record, member.revision));
    if (revision === undefined) throw new ProtocolError('name_taken');
    member.revision = revision;
    member.record = record;
    const old = member.username;
    member.username = username;
    return old;
  }
  // Read before the claim: the table's watch moves the member to its new key meanwhile.
  const oldKey = member.key;
  const oldRevision = member.revision;
  const revision = await track(table.create(key, record));
  if (revision === undefined) throw new ProtocolError('name_taken');
  member.revision = revision;
  member.record = record;
  member.key = key;
  member.username = username;
  await track(table.remove(oldKey, oldRevision));
  return undefined;
}
