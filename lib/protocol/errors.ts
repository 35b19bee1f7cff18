/**
 * Error codes of the wire protocol, one list for the daemon, the client and the docs.
 * Each code has a fixed human text so that no message ever carries a secret or echoes input.
 */

export const ErrorText = {
  bad_request: 'malformed or unexpected frame',
  unsupported_version:
    'this daemon speaks cmd-chat protocol v3 only; please upgrade your cmd-chat client (an original client needs a daemon started with --legacy)',
  auth_failed: 'authentication failed: wrong password or no such room',
  busy: 'the daemon is at a limit (too many connections, handshakes or rooms); try again later',
  timeout: 'the handshake took too long',
  too_large: 'frame exceeds the size limit',
  name_taken: 'that name is already used in this room',
  bad_name:
    'names are one word of 1-32 visible characters in one script: no control, invisible or bidi characters, no accent mark standing alone, no colon, no leading * - ! @',
  no_such_user: 'no member with that id is in the room',
  no_card: 'that member has no keys (an original client): private messages to it are not possible',
  not_joined: 'join the room first',
  already_joined: 'already joined',
  slow_reader: 'you stopped reading; the daemon disconnected you',
  keepalive: 'no sign of life from your side within the keepalive time; the daemon disconnected you',
  replaced: 'your name was taken back by a new connection of yours (a reconnect); this one is closed',
  rate_limited: 'too many handshakes or wrong passwords from your address; wait a minute and try again',
  legacy_refused: 'this room runs in legacy (v1) mode; connect with --legacy to accept its weaker protection',
  altered:
    'the handshake was altered on the way: the two ends disagree on the protocol version or the legacy flag (an on-path attacker, or a proxy that rewrites traffic); not continued',
  internal: 'internal error',
} as const;

export type ErrorCode = keyof typeof ErrorText;

/**
 * Whether a string from the wire is one of our codes. An own-property check: `in` would also
 * accept inherited names such as "toString" or "__proto__".
 */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorText, value);
}

/** A protocol violation or refusal, carrying a code from the list above. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ErrorText[code],
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** The error frame the daemon sends for `code`: `{"error": text, "code": code}` (handshake form). */
export function handshakeErrorFrame(code: ErrorCode): { error: string; code: ErrorCode } {
  return { error: ErrorText[code], code };
}
