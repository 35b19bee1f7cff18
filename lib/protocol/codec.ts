/**
 * The line codec: splits a byte stream into newline-terminated lines with a hard limit on
 * line length, so a peer that never sends a newline cannot make us buffer without bound.
 */
import { ProtocolError } from './errors.js';

const NEWLINE = 0x0a;

/**
 * Feeds on chunks and returns complete lines (without the newline, a trailing CR kept).
 * Once a line exceeds `maxLineBytes` the decoder throws `too_large` and stays failed.
 */
export class LineDecoder {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private failed = false;

  constructor(private maxLineBytes: number) {}

  /** Changes the limit, e.g. when the handshake ends and channel records may be longer. */
  setLimit(maxLineBytes: number): void {
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.partBytes;
  }

  push(chunk: Buffer): string[] {
    if (this.failed) throw new ProtocolError('too_large');
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) break;
      const length = this.partBytes + (nl - start);
      if (length > this.maxLineBytes) return this.fail();
      if (this.partBytes === 0) {
        lines.push(chunk.toString('utf8', start, nl));
      } else {
        this.parts.push(chunk.subarray(start, nl));
        lines.push(Buffer.concat(this.parts, length).toString('utf8'));
        this.parts = [];
        this.partBytes = 0;
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.length - start;
      if (this.partBytes + rest > this.maxLineBytes) return this.fail();
      // Copy: the caller may reuse the chunk, and a small tail should not pin a large buffer.
      this.parts.push(Buffer.from(chunk.subarray(start)));
      this.partBytes += rest;
    }
    return lines;
  }

  private fail(): never {
    this.failed = true;
    this.parts = [];
    this.partBytes = 0;
    throw new ProtocolError('too_large');
  }
}

/** Parses one line as a JSON object; anything else (not JSON, an array, a number…) is `bad_request`. */
export function parseObject(line: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ProtocolError('bad_request', 'frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('bad_request', 'frame is not a JSON object');
  }
  return value as Record<string, unknown>;
}
