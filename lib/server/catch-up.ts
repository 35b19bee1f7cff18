/**
 * A returning member handed the room's log from its cursor: in pages read from the log, each
 * once the member's send queue has drained below a bound (so catching up never makes it a
 * slow reader), a `gap` first when the log no longer reaches back, until it is up to date and
 * takes live events again.
 */
import type { ServerFrame } from '../protocol/frames.js';
import type { LoggedEvent, PageLimits, RoomLog } from '../rooms/seam.js';
import type { Peer, RoomLimits, RoomMember } from './room-member.js';

const DEFAULT_PAGE: PageLimits = { maxEvents: 256, maxChars: 1024 * 1024 };
/** How often a catching-up member's queue is looked at while it is above the bound (ms). */
const DRAIN_POLL_MS = 10;
/** Pause before reading again after a failed read (ms). */
const READ_RETRY_MS = 100;

/** What the pump needs of its room. */
export interface CatchUpRoom {
  readonly limits: RoomLimits;
  /** The room's log now (another after the room's backing started over). */
  log(): RoomLog | undefined;
  /** The last event the room's watch delivered. */
  seen(): number;
  /** Whether this member is still the room's member under its id. */
  has(member: RoomMember): boolean;
  /** Hands one event to these members (the way live events go: a batch under the room key). */
  send(readers: Peer[], event: LoggedEvent): void;
}

/** Hands the member the log from its cursor in pages, then clears `catchingUp`. */
export async function catchUp(member: RoomMember, room: CatchUpRoom): Promise<void> {
  const page = room.limits.resumePage ?? DEFAULT_PAGE;
  const low = room.limits.resumeQueueLowBytes ?? Number.POSITIVE_INFINITY;
  const here = (): boolean => room.has(member);
  while (here()) {
    const log = room.log();
    if (!log || member.cursor >= room.seen()) {
      member.catchingUp = false;
      return;
    }
    if ((member.peer.queuedBytes ?? 0) > low) {
      await sleep(DRAIN_POLL_MS);
      continue;
    }
    let read: Awaited<ReturnType<RoomLog['read']>>;
    try {
      read = await log.read(member.cursor, page);
    } catch {
      await sleep(READ_RETRY_MS);
      continue;
    }
    if (!here() || log !== room.log() || read.epoch !== log.epoch) continue;
    if (read.firstSeq > member.cursor + 1) {
      if (read.lost > 0 || read.wiped > 0) {
        const gap: ServerFrame = {
          type: 'gap',
          lost: read.lost,
          wiped: read.wiped,
          seq: read.firstSeq - 1,
        };
        member.peer.sendSerialized(JSON.stringify(gap));
      }
      member.cursor = read.firstSeq - 1;
    }
    // A page goes the way of live events: a batch under the room's broadcast key (for this
    // member alone), never sealed under a nonce of its own sequence numbers.
    const reader = [member.peer];
    for (const event of read.events) {
      if (event.seq !== member.cursor + 1) continue;
      room.send(reader, event);
      member.cursor = event.seq;
    }
    // Nothing more to read than what the watch has not delivered yet: live from here.
    if (read.events.length === 0 && read.lastSeq <= member.cursor) {
      member.catchingUp = false;
      return;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
