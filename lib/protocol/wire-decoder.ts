/**
 * The byte stream of a connection → its units, one at a time: newline-terminated lines while
 * the handshake runs (and for original v1 peers), then, from `startRecords`, v3 binary records
 * (`length (u32 BE) | kind | body`, docs/protocol.md "Records (v3)"). Units are pulled
 * (`next`), so the switch happens exactly after the last handshake line, whatever else arrived
 * in the same read. Hard limits on a line and on a record: a peer cannot make us buffer
 * without bound; over a limit, `next` throws `too_large` and the decoder stays failed.
 */
import { ProtocolError } from './errors.js';

const NEWLINE = 0x0a;

export class WireDecoder {
  private chunks: Buffer[] = [];
  private total = 0;
  /** Where the newline search stopped in the bytes held (line mode). */
  private scanned = 0;
  private records = false;
  private failed = false;

  constructor(private limit: number) {}

  /** Bytes held, not yet returned as a unit. */
  get bufferedBytes(): number {
    return this.total;
  }

  /** Whether units are binary records now. */
  get inRecords(): boolean {
    return this.records;
  }

  /** Changes the limit (of a line, or of a record's length once in records). */
  setLimit(limit: number): void {
    this.limit = limit;
  }

  /** From now on units are binary records of at most `maxRecordBytes` (kind and body). */
  startRecords(maxRecordBytes: number): void {
    this.records = true;
    this.limit = maxRecordBytes;
  }

  push(chunk: Buffer): void {
    if (this.failed) throw new ProtocolError('too_large');
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /**
   * The next complete unit: a line (UTF-8 text without its newline) or a record (kind | body,
   * a Buffer); undefined until one is complete.
   */
  next(): string | Buffer | undefined {
    if (this.failed) throw new ProtocolError('too_large');
    return this.records ? this.nextRecord() : this.nextLine();
  }

  private nextLine(): string | undefined {
    let offset = 0;
    for (const chunk of this.chunks) {
      const from = Math.max(0, this.scanned - offset);
      if (from < chunk.length) {
        const nl = chunk.indexOf(NEWLINE, from);
        if (nl !== -1) {
          const length = offset + nl;
          if (length > this.limit) return this.fail();
          const line = this.take(length + 1);
          this.scanned = 0;
          return line.toString('utf8', 0, length);
        }
      }
      offset += chunk.length;
    }
    this.scanned = this.total;
    if (this.total > this.limit) return this.fail();
    return undefined;
  }

  private nextRecord(): Buffer | undefined {
    if (this.total < 4) return undefined;
    const first = this.chunks[0]!;
    const length = first.length >= 4 ? first.readUInt32BE(0) : this.peek(4).readUInt32BE(0);
    if (length < 1 || length > this.limit) return this.fail();
    if (this.total < 4 + length) return undefined;
    this.take(4);
    return this.take(length);
  }

  /** The first `n` bytes held (n ≤ total), without taking them. */
  private peek(n: number): Buffer {
    return Buffer.concat(this.chunks, Math.min(n, this.total)).subarray(0, n);
  }

  /** Removes and returns the first `n` bytes held (n ≤ total). */
  private take(n: number): Buffer {
    this.total -= n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, part);
      at += part;
      if (part === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    return out;
  }

  private fail(): never {
    this.failed = true;
    this.chunks = [];
    this.total = 0;
    throw new ProtocolError('too_large');
  }
}
