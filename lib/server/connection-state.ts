/**
 * One connection as the daemon tracks it, phase by phase: handshaking (before the password
 * proof), authenticated (the room is known, the join on its way), a member, closed; and which
 * ends of a member's connection count as lost by the network (its name is then held).
 */
import type { ServerHandshake } from '../protocol/handshake-server.js';
import type { CloseReason, Link } from './link.js';
import type { Room } from './room.js';

/**
 * Before the password proof. srp_init is `unseen`, then `submitted` to the scheduler (the
 * client's next frames wait in `deferred`), then `handled` (the challenge is out).
 */
export interface Handshaking {
  readonly kind: 'handshaking';
  readonly handshake: ServerHandshake;
  /** Ends the connection when the handshake takes longer than `handshakeTimeoutMs`. */
  readonly timeout: NodeJS.Timeout;
  readonly acceptedAt: number;
  init: 'unseen' | 'submitted' | 'handled';
  readonly deferred: Array<Record<string, unknown>>;
}

/** A join on its way: held back by the source's join rate, or claiming its name in the room. */
export type JoinInFlight =
  | { readonly kind: 'paced'; readonly timer: NodeJS.Timeout }
  | { readonly kind: 'asked' };

/** Proved the password for `room` (counted in its `pendingJoins`), not a member yet. */
export interface Authenticated {
  readonly kind: 'authenticated';
  readonly room: Room;
  /** Ends the connection when no join succeeds within `joinTimeoutMs`. */
  readonly timeout: NodeJS.Timeout;
  joining: JoinInFlight | undefined;
  /**
   * Frames that came while the join was on its way (the name is claimed asynchronously): they
   * are handled after it, in order, as frames of one connection always are.
   */
  waiting: Record<string, unknown>[];
}

/** A member of `room`. */
export interface Joined {
  readonly kind: 'member';
  readonly room: Room;
  /** The member said goodbye (`leave`): its name is not held for a reconnect. */
  leaving?: boolean;
}

/** The link has closed and the client's traces are removed. */
export interface Closed {
  readonly kind: 'closed';
}

export type Phase = Handshaking | Authenticated | Joined | Closed;

/**
 * Whether a member's connection ended by the network rather than by anyone's choice: the
 * peer went away without a goodbye, fell silent (keepalive) or stopped reading. Only then is
 * its name held for its reconnect; a member closed for breaking the protocol, or taken over
 * by its own reconnect, gets no hold.
 */
export function connectionLost(reason: CloseReason): boolean {
  return reason === 'peer_closed' || reason === 'keepalive' || reason === 'slow_reader';
}

/** One connection as the daemon tracks it; what holds in each phase is in `phase`. */
export interface ClientState {
  readonly link: Link;
  /** What per-source connection counts count against (undefined behind a proxy). */
  readonly source: string | undefined;
  /** What its handshake rate, back-off, join rate and open rooms count against (`budgetKey`). */
  readonly budget: string | undefined;
  phase: Phase;
}
