/**
 * Pipe mode's input as records: stdin bytes split at a separator (newline, or NUL for `--null`)
 * and decoded as UTF-8, with no interpretation of the text. A record that is not valid UTF-8,
 * or that is certainly over the message limit, is reported instead of decoded; a long record
 * is counted, not buffered, so a stream without separators cannot grow memory without bound.
 */
import type { Readable } from 'node:stream';
import { MAX_MESSAGE_BYTES } from '../message-size.js';

export type InputRecord =
  | { kind: 'text'; number: number; text: string }
  /** Over the limit: `bytes` as the limit counts them (JSON-escaped UTF-8). */
  | { kind: 'too_long'; number: number; bytes: number }
  | { kind: 'not_utf8'; number: number };

export type Separator = 'newline' | 'nul';

const NEWLINE = 0x0a;
const NUL = 0x00;
const CR = 0x0d;

/**
 * The size of raw UTF-8 bytes as message-size.ts counts the decoded text: JSON escaping makes
 * `"`, `\`, and \b \t \n \f \r two bytes and the other C0 controls six. Every such character is
 * one byte below 0x80, and no byte of a multi-byte UTF-8 sequence is, so it is counted per byte.
 */
export function escapedBytes(bytes: Uint8Array): number {
  let n = bytes.length;
  for (const b of bytes) {
    if (b >= 0x20) {
      if (b === 0x22 || b === 0x5c) n += 1;
    } else if (b === 0x08 || b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d) n += 1;
    else n += 5;
  }
  return n;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Yields the records of `input`, numbered from 1; the last one needs no separator. With
 * `newline`, a CR before the newline is dropped (text from Windows). Records longer than
 * `maxBytes` raw bytes are not kept: they can only be over the limit, and only their size is
 * reported. Reading waits while the consumer is busy, so a fast writer is held back by the pipe.
 */
export async function* readRecords(
  input: Readable,
  separator: Separator,
  maxBytes: number = MAX_MESSAGE_BYTES,
): AsyncGenerator<InputRecord> {
  const sep = separator === 'nul' ? NUL : NEWLINE;
  let parts: Buffer[] = [];
  let kept = 0;
  /** Escaped size of a record already over `maxBytes` (its bytes are dropped), or -1. */
  let overSize = -1;
  let number = 0;

  const add = (chunk: Buffer): void => {
    if (overSize >= 0) {
      overSize += escapedBytes(chunk);
      return;
    }
    // One byte more than the limit is kept, for a CR that may precede the newline.
    if (kept + chunk.length <= maxBytes + 1) {
      parts.push(chunk);
      kept += chunk.length;
      return;
    }
    overSize = parts.reduce((n, p) => n + escapedBytes(p), 0) + escapedBytes(chunk);
    parts = [];
    kept = 0;
  };
  const finish = (): InputRecord => {
    number++;
    const over = overSize;
    let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, kept);
    parts = [];
    kept = 0;
    overSize = -1;
    if (over >= 0) return { kind: 'too_long', number, bytes: over };
    if (separator === 'newline' && bytes.length > 0 && bytes[bytes.length - 1] === CR)
      bytes = bytes.subarray(0, -1);
    if (bytes.length > maxBytes) return { kind: 'too_long', number, bytes: escapedBytes(bytes) };
    try {
      return { kind: 'text', number, text: decoder.decode(bytes) };
    } catch {
      return { kind: 'not_utf8', number };
    }
  };

  for await (const data of input) {
    const chunk = typeof data === 'string' ? Buffer.from(data, 'utf8') : (data as Buffer);
    let start = 0;
    for (let at = chunk.indexOf(sep, start); at !== -1; at = chunk.indexOf(sep, start)) {
      add(chunk.subarray(start, at));
      start = at + 1;
      yield finish();
    }
    if (start < chunk.length) add(chunk.subarray(start));
  }
  if (kept > 0 || overSize >= 0) yield finish();
}
