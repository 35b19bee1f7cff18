/**
 * The largest message a client sends, stated in bytes so people and scripts can check a line
 * before sending it. The body is measured as it travels inside the encrypted envelope: UTF-8,
 * with `"`, `\` and tab escaped to two bytes and other control characters to six (JSON
 * escaping). Any body within the limit, from any valid name, fits the daemon's default limit
 * on a message token (a test checks the worst case).
 */

/** Largest message body, in bytes as encoded in the envelope. */
export const MAX_MESSAGE_BYTES = 48_000;

/** The size of `body` as the limit counts it. */
export function messageBytes(body: string): number {
  // Fast path: most text has nothing to escape, and then the count is plain UTF-8.
  if (!/["\\\x00-\x1f]/.test(body)) return Buffer.byteLength(body, 'utf8');
  return Buffer.byteLength(JSON.stringify(body), 'utf8') - 2;
}

/** Thrown by a send whose body is over the limit; nothing was sent. */
export class MessageTooLongError extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number = MAX_MESSAGE_BYTES,
  ) {
    super(`message too long: ${bytes} bytes, the limit is ${limit} bytes`);
    this.name = 'MessageTooLongError';
  }
}

/** Throws MessageTooLongError when `body` is over the limit. */
export function checkMessageSize(body: string): void {
  // Cheap bound first: a string of n UTF-16 units is at most 6n bytes encoded.
  if (body.length * 6 <= MAX_MESSAGE_BYTES) return;
  const bytes = messageBytes(body);
  if (bytes > MAX_MESSAGE_BYTES) throw new MessageTooLongError(bytes);
}
