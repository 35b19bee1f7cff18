/**
 * What a change of the room's names (room-names.ts) does to this daemon's members: others are
 * told `user_joined`, `user_left` or `user_renamed`; a member of this daemon whose name went to
 * its own resume elsewhere, or was held by another daemon that took it for gone, is closed;
 * a connected member whose name vanished under it (its backing started over) claims it again.
 * Kept apart from room.ts, which owns the members and the log; this only reacts to names.
 */
import type { Member, ServerFrame } from '../protocol/frames.js';
import type { NameTable } from '../rooms/seam.js';
import type { RoomMember } from './room-member.js';
import type { PresenceChange } from './room-names.js';

/** What the room lends the presence handling. */
export interface PresenceRoom {
  /** This daemon's members by user id. */
  readonly members: Map<string, RoomMember>;
  /** The name table while the backing is open. */
  names(): NameTable | undefined;
  /** Queues a presence frame for every member but `except`. */
  announce(frame: ServerFrame, except?: string): void;
  /** Sends a frame to every member now, after the presence frames pending. */
  broadcast(frame: ServerFrame): void;
  /** A name-table write the room awaits before it lets go of its backing. */
  track<T>(write: Promise<T>): Promise<T>;
  /** Takes a member out of the room here and closes its connection. */
  remove(member: RoomMember, reason: 'replaced' | 'keepalive'): void;
}

/** A member as frames show it (the card only when it has one). */
export function memberOf(userId: string, username: string, card: string | undefined): Member {
  return card === undefined ? { user_id: userId, username } : { user_id: userId, username, card };
}

/** Tells the members of one change of the room's names, and acts on it for a member of this daemon. */
export function present(room: PresenceRoom, p: PresenceChange): void {
  const { userId, username, card } = p.record;
  const local = room.members.get(userId);
  if (p.kind === 'joined') {
    room.announce({ type: 'user_joined', ...memberOf(userId, username, card) }, userId);
    return;
  }
  if (p.kind === 'renamed') {
    if (local) {
      local.username = username;
      local.key = p.key;
    }
    room.broadcast({ type: 'user_renamed', user_id: userId, old: p.old, new: username });
    return;
  }
  if (local && local.key === p.key && (p.why === 'released' || p.why === 'expired')) {
    // The name went under a connected member (its backing started over): claim it again.
    void reclaim(room, local);
    return;
  }
  room.announce({ type: 'user_left', user_id: userId, username });
  // Replaced by its own resume elsewhere, or held by another daemon that took it for gone.
  if (local && local.key === p.key) room.remove(local, p.why === 'held' ? 'keepalive' : 'replaced');
}

async function reclaim(room: PresenceRoom, member: RoomMember): Promise<void> {
  const names = room.names();
  const revision =
    names && (await room.track(names.create(member.key, member.record)).catch(() => undefined));
  if (revision !== undefined) member.revision = revision;
  else if (room.members.get(member.peer.userId) === member) room.remove(member, 'replaced');
}
