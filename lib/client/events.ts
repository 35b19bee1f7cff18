/**
 * What a client session reports to its user interface (REPL, pipe mode, JSON mode): the
 * room's happenings after decryption and checks, independent of how they are shown.
 */
import type { SignatureStatus, TrustState } from './session/member-keys.js';

/** A chat message, decrypted (or not) and checked against the daemon's attribution. */
export interface MessageEvent {
  type: 'message';
  /** The daemon's message id (unique per room per daemon run). */
  id: string;
  /** When the daemon accepted it, ms since the epoch. */
  at: number;
  userId: string;
  /** The sender's name as the daemon attributes it. */
  username: string;
  /** 'text' or 'me' (an action line). */
  kind: 'text' | 'me';
  /** The decrypted body; empty when `undecryptable`. Not yet sanitised for a terminal. */
  body: string;
  /** Sent by this session (it is our echo). */
  mine: boolean;
  /** Replayed from the room's history when we joined. */
  history: boolean;
  /** The token failed to decrypt with the room key (another room's key, or garbage). */
  undecryptable: boolean;
  /** The envelope's `from` differs from the daemon's attribution: set to the claimed name. */
  forgedFrom?: string;
  /**
   * Who provably wrote it (see SignatureStatus). Undefined for an undecryptable token and in the
   * legacy modes, where no message is signed (the session's mode says so once, not every line).
   */
  signature?: SignatureStatus;
  /** Validly signed by a verified member (pinned with --trust, or /verify'd in this session). */
  verified?: true;
  /**
   * The sender's trust state (see TrustState) when the session has member keys; absent for
   * our own messages and in the legacy modes.
   */
  trust?: TrustState;
}

export interface JoinEvent {
  type: 'join';
  at: number;
  userId: string;
  username: string;
}

export interface LeaveEvent {
  type: 'leave';
  at: number;
  userId: string;
  username: string;
}

export interface RenameEvent {
  type: 'rename';
  at: number;
  userId: string;
  old: string;
  new: string;
}

export interface ClearedEvent {
  type: 'cleared';
  at: number;
  /** Who wiped the room's history. */
  by: string;
}

/** A private message to or from this user (end-to-end between the two members' session keys). */
export interface PrivateEvent {
  type: 'private';
  at: number;
  fromUserId: string;
  from: string;
  toUserId: string;
  to: string;
  /** Empty when `undecryptable`. Not yet sanitised for a terminal. */
  body: string;
  /** Ours (the daemon's receipt), or to us. */
  mine: boolean;
  /** It did not open under the key we share with that member: tampered with, or not for us. */
  undecryptable: boolean;
  /** The trust state of the other member (the sender, or the recipient of ours). */
  trust?: TrustState;
}

/**
 * The room's safety phrase as this member sees it (first after joining, then whenever the
 * membership or a member's key changes): members compare it out of band.
 */
export interface SafetyPhraseEvent {
  type: 'safety_phrase';
  at: number;
  phrase: string;
  /** How many members it covers (us included). */
  members: number;
}

/** A non-fatal error reported by the daemon inside the channel, or a local warning. */
export interface ErrorEvent {
  type: 'error';
  at: number;
  code: string;
  message: string;
}

/** The daemon is stopping (SIGTERM): the session ends right after this event. */
export interface ShutdownEvent {
  type: 'shutdown';
  at: number;
}

/** The connection to the daemon was lost; the session reconnects by itself. */
export interface DisconnectedEvent {
  type: 'disconnected';
  at: number;
  /** Why, for humans. */
  reason: string;
  /** Our messages not yet confirmed (they are sent after rejoining). */
  pending: number;
}

/** The session will try to reconnect in `delayMs` (attempt `attempt`, from 1). */
export interface ReconnectingEvent {
  type: 'reconnecting';
  at: number;
  attempt: number;
  delayMs: number;
  /** Why the previous attempt failed (absent before the first attempt after a loss). */
  reason?: string;
}

/**
 * Back in the room under the same name. `missed`: how many of the room's events we had not
 * seen, exactly (the log's head against our place in it): they follow, messages with
 * `history: true` (and wipes, and a `gap` for any the daemon no longer holds); then come live
 * events again. From a daemon that does not number its log: the history messages we had not
 * seen.
 */
export interface ReconnectedEvent {
  type: 'reconnected';
  at: number;
  attempt: number;
  missed: number;
  /** Our messages being sent now (queued while disconnected, or never confirmed). */
  pending: number;
}

/**
 * After a reconnect: the room's log no longer held `lost + wiped` messages sent while we were
 * away (`wiped`: removed by a `/wipe`; `lost`: dropped from the daemon's resume window).
 */
export interface GapEvent {
  type: 'gap';
  at: number;
  lost: number;
  wiped: number;
}

/**
 * After a reconnect: the room's log started over (another epoch: the daemon restarted, or the
 * room was emptied and created again). What was said while we were away is gone, and how
 * much is unknown: it is not a gap, whose count is exact.
 */
export interface RestartedEvent {
  type: 'restarted';
  at: number;
}

/** The session's connection status (not a room happening). */
export type ConnectionEvent =
  | DisconnectedEvent
  | ReconnectingEvent
  | ReconnectedEvent
  | GapEvent
  | RestartedEvent;

export type ChatEvent =
  | ShutdownEvent
  | MessageEvent
  | PrivateEvent
  | JoinEvent
  | LeaveEvent
  | RenameEvent
  | ClearedEvent
  | SafetyPhraseEvent
  | ErrorEvent
  | ConnectionEvent;
