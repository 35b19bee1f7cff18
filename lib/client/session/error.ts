/**
 * Why a client session could not start or ended. The code picks the process exit code
 * (commands/connect.ts); the message is for humans and names no secret.
 */

export type SessionErrorCode =
  | 'cannot_connect'
  | 'auth_failed'
  | 'refused'
  | 'name_taken'
  | 'bad_name'
  | 'connection_lost'
  | 'shutdown'
  | 'protocol'
  /** A reconnect found the room with another fingerprint: it is not continued. */
  | 'fingerprint_changed';

export class SessionError extends Error {
  constructor(
    readonly code: SessionErrorCode,
    message: string,
    /** The daemon's error code, when it sent one. */
    readonly daemonCode?: string,
  ) {
    super(message);
    this.name = 'SessionError';
  }
}
