/**
 * An authenticated connection's way into its room: a join held back by its source's join rate
 * (repeated join/leave from one source cannot flood every member with presence events), then
 * the room's claim on the name (asynchronous: a compare-and-set in the name table); the frames
 * that came meanwhile are handled after it, in order. A refusal reaches the client as an error
 * frame (an original client, which cannot retry, is closed).
 */
import { ProtocolError } from '../protocol/errors.js';
import type { Authenticated, ClientState, Joined } from './connection-state.js';
import type { Logger } from './log.js';
import type { RateBuckets } from './rate-buckets.js';
import type { JoinOptions } from './room.js';
import type { RoomRegistry } from './rooms.js';

/** What joins need of the daemon. */
export interface JoinHost {
  onChannelFrame(client: ClientState, phase: Authenticated | Joined, raw: Record<string, unknown>): void;
  reportError(client: ClientState, err: unknown): void;
}

export class Joins {
  constructor(
    private readonly host: JoinHost,
    private readonly registry: RoomRegistry,
    private readonly logger: Logger,
    private readonly buckets: RateBuckets,
  ) {}

  /**
   * Joins now, or once the source's join tokens are due: repeated join/leave from one source
   * cannot make every member's client process a stream of presence events.
   */
  whenDue(client: ClientState, phase: Authenticated, username: unknown, options: JoinOptions): void {
    if (phase.joining) throw new ProtocolError('already_joined');
    const bucket = this.buckets.joinBucketOf(client.budget);
    if (!bucket) {
      this.join(client, phase, username, options);
      return;
    }
    const wait = bucket.waitMs(1);
    bucket.charge(1); // reserved now: a later join from the same source waits behind this one
    if (wait <= 0) {
      this.join(client, phase, username, options);
      return;
    }
    const timer = setTimeout(() => {
      phase.joining = undefined;
      if (client.phase !== phase) return;
      try {
        this.join(client, phase, username, options);
      } catch (err) {
        this.host.reportError(client, err);
        this.handleWaiting(client, phase);
      }
    }, wait);
    phase.joining = { kind: 'paced', timer };
  }

  /**
   * Puts an authenticated client in its room. The room claims the name in its name table
   * (asynchronous: in a cluster it is a compare-and-set on JetStream); a refusal (`name_taken`,
   * `bad_name`, `busy`…) reaches the client as an error frame (or, with `fatal`, closes it).
   */
  join(
    client: ClientState,
    phase: Authenticated,
    username: unknown,
    options: JoinOptions,
    fatal = false,
  ): void {
    if (phase.joining?.kind === 'asked') throw new ProtocolError('already_joined');
    const { room } = phase;
    phase.joining = { kind: 'asked' };
    room.join(client.link, username, options).then(
      ({ you }) => {
        phase.joining = undefined;
        if (client.phase === phase) {
          this.joined(client, phase, you.username);
          this.handleWaiting(client, phase);
        } else {
          // The connection went while its name was claimed: the claim goes with it.
          room.leave(client.link.userId, false);
          this.registry.releaseIfEmpty(room);
        }
      },
      (err: unknown) => {
        phase.joining = undefined;
        if (client.phase !== phase) return;
        const code = err instanceof ProtocolError ? err.code : 'internal';
        if (fatal) client.link.close(code);
        else {
          this.host.reportError(client, err);
          this.handleWaiting(client, phase);
        }
      },
    );
  }

  /** Handles the frames that waited for a join, in order, in whatever phase the join left. */
  private handleWaiting(client: ClientState, phase: Authenticated): void {
    for (const raw of phase.waiting.splice(0)) {
      const now = client.phase;
      if (now.kind !== 'authenticated' && now.kind !== 'member') return;
      this.host.onChannelFrame(client, now, raw);
    }
  }

  private joined(client: ClientState, phase: Authenticated, name: string): void {
    const { room } = phase;
    clearTimeout(phase.timeout);
    client.phase = { kind: 'member', room };
    room.pendingJoins--;
    // The name as the room keeps it (normalised), never the raw string from the wire.
    this.logger.detail(`${JSON.stringify(name)} joined room ${JSON.stringify(room.name)}`);
  }
}
