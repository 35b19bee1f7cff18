/** The options of a client session, and the bounds that apply when they are left out. */
import type { ClientLimits } from '../../protocol/limits.js';
import { defaultDaemonLimits } from '../../protocol/limits.js';
import type { ClientTransport } from '../../transport/transport.js';
import type { BackoffPolicy } from './backoff.js';
import type { TrustPins } from './trust-pins.js';

export interface SessionOptions {
  transport: ClientTransport;
  room: string;
  password: string | Buffer;
  /** Open-rooms mode: create the room if it does not exist. */
  create?: boolean;
  /** Consent to join a legacy room of a v2 daemon (over v2; the room key is v1's). */
  legacy?: boolean;
  /**
   * Speak the original protocol (v1), for an original daemon: nothing sealed. It takes the
   * name during the handshake, so `username` is needed then. Never chosen by the daemon.
   */
  original?: boolean;
  username?: string;
  limits?: Partial<ClientLimits>;
  /** Progress for a spinner. */
  onStage?: (stage: 'connecting' | 'deriving' | 'verifying') => void;
  /**
   * Reconnect when the connection is lost after joining (default on; original-protocol
   * sessions never reconnect). `false`: the session ends at the first loss, as it used to.
   */
  reconnect?: boolean | Partial<BackoffPolicy>;
  /** Lines held while disconnected (queued plus unconfirmed); more are refused. */
  maxQueuedLines?: number;
  /** The long-term signing seed (`--identity`); per-session keys without it. */
  identitySeed?: Buffer;
  /** Pinned names and fingerprints (`--trust`). */
  trust?: TrustPins;
  /** A message whose echo is this late on a live connection is written again (ms; RESEND_AFTER_MS). */
  resendAfterMs?: number;
}

/** Largest token we send: the daemon's default limit on a message frame. */
export const MAX_TOKEN_CHARS = defaultDaemonLimits.maxMessageChars;

/** A message whose echo has not come this long after it was written is written again (ms). */
export const RESEND_AFTER_MS = 10_000;

/** Default bound on lines held while disconnected (queued plus unconfirmed). */
export const DEFAULT_MAX_QUEUED_LINES = 1000;
