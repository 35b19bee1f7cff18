/**
 * What a room is made of, as types: a member's connection (`Peer`), a member as the room keeps
 * it (its name's key and revision in the name table, its place in the log), how a member
 * joins, the limits a room enforces and where its backing comes from.
 */

import type { SharedBudget } from '../rooms/budget.js';
import type { NameRecord, PageLimits, RoomBacking } from '../rooms/seam.js';
import type { BatchPeer } from './fanout.js';
import type { HoldQuota } from './holds.js';

/** A room member's connection as the room sees it (frames for all go out as shared batches: fanout.ts). */
export interface Peer extends BatchPeer {
  readonly userId: string;
  /** Queues one serialised frame (JSON, no newline) for this member alone. */
  sendSerialized(json: string): void;
  /**
   * Closes the connection: `replaced`, the member came back on a new one; `keepalive`, the
   * room took its connection for lost (another daemon held its name): it resumes.
   */
  close(reason: 'replaced' | 'keepalive'): void;
  /** Bytes waiting to be written (a catching-up member gets its next page below a bound). */
  readonly queuedBytes?: number;
}

export interface RoomMember {
  peer: Peer;
  username: string;
  /** `nameClass(username)`: the one key under which the name is unique in the room. */
  key: string;
  /** The revision of its entry in the name table (what its next compare-and-set names). */
  revision: number;
  /** Its entry as written (the record a hold or a re-claim starts from). */
  record: NameRecord;
  /** Opaque to the daemon: sealed under the room key by the member. */
  card?: string;
  /** The last presence event its `init` reflected (see presence.ts). */
  since: number;
  /** The last log event handed to it. */
  cursor: number;
  /** It is handed pages of the log (after a resume) rather than live events. */
  catchingUp: boolean;
}

/** How a member joins: with the secret of an earlier connection, and whether it may resume later. */
export interface JoinOptions {
  card?: string;
  /** The resume secret from the `init` of the member's previous connection. */
  resume?: string;
  /** Issue a resume secret (members on a sealed channel; never in plaintext). */
  resumable?: boolean;
  /** The member's place in the log on its previous connection (honoured with a valid `resume`). */
  after?: { epoch: string; seq: number };
  /** Where the connection comes from (holds are counted per source). */
  source?: string;
}

/** The limits a room enforces itself. */
export interface RoomLimits {
  historySize: number;
  historyBytes: number;
  maxMembersPerRoom: number;
  /** Shared bound on all histories of the daemon (characters); absent: per room only. */
  historyBudget?: SharedBudget;
  /** Presence events are sent at most once per this many ms (batched); absent or 0: at once. */
  presenceIntervalMs?: number;
  /** How long the name of a member whose connection was lost stays held for it (ms; 0 = not). */
  resumeGraceMs?: number;
  /** Daemon-wide holds per source; absent: not counted. */
  holdQuota?: HoldQuota;
  /** A returning member is handed the log in pages of this size… */
  resumePage?: PageLimits;
  /** …each once its send queue is down to this many bytes. */
  resumeQueueLowBytes?: number;
}

/** Where the room's backing comes from: a new life of it at each open (the registry's store). */
export interface BackingSource {
  open(): Promise<RoomBacking>;
  close(): Promise<void>;
}
