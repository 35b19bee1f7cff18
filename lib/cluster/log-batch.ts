/**
 * What one message of a room's stream holds: the events a daemon appended in one tick,
 * numbered from `first` (the room's sequence number of the first of them), each with its
 * keyed de-duplication id. Sealed with the cluster key, the stream's subject and the log's
 * epoch as associated data: a batch copied into another room's stream, or into a later life
 * of the same stream, does not open. A wipe carries the first sequence number it removed,
 * so a reader can tell wiped from lost after the wipe event itself is gone.
 */
import type { MessageData } from '../protocol/frames.js';
import type { RoomEvent } from '../rooms/seam.js';
import { openJson, SEAL_OVERHEAD, sealText } from './seal.js';

/** One event of a batch, with the id it is de-duplicated by. */
export interface BatchEvent {
  /** Keyed hash (hex) of the appender's de-duplication id. */
  id: string;
  event: RoomEvent;
  /** For a wipe: the first sequence number it removed. */
  from?: number;
  /** Its encoding inside the sealed batch (`encodeBatchEvent`), when the appender made it already. */
  encoded?: string;
}

export interface LogBatch {
  /** Sequence number of `events[0]`; the others follow without a hole. */
  first: number;
  events: BatchEvent[];
  /** Random per append attempt: tells an appender its own batch from another's with the same ids. */
  token: string;
}

/** The associated data that binds a batch to its room's stream and its epoch. */
function context(subject: string, epoch: string): string {
  return `log\0${subject}\0${epoch}`;
}

/** One event as the sealed batch holds it (JSON), made once per event however often its batch is sent. */
export function encodeBatchEvent(b: BatchEvent): string {
  return JSON.stringify(
    b.event.kind === 'message'
      ? { i: b.id, m: b.event.data }
      : { i: b.id, w: { by: b.event.by, n: b.event.wiped, from: b.from ?? 0 } },
  );
}

/** Bytes a batch adds to its events' encodings (UTF-8): the header, the commas, the seal. */
export function batchOverhead(events: number, tokenChars: number): number {
  return `{"f":${Number.MAX_SAFE_INTEGER},"t":"","e":[]}`.length + tokenChars + events + SEAL_OVERHEAD;
}

export function sealBatch(key: Buffer, subject: string, epoch: string, batch: LogBatch): Uint8Array {
  const events = batch.events.map((b) => b.encoded ?? encodeBatchEvent(b)).join(',');
  const text = `{"f":${batch.first},"t":${JSON.stringify(batch.token)},"e":[${events}]}`;
  return sealText(key, context(subject, epoch), text);
}

/** Opens and checks a stored batch; undefined when it does not open or is malformed. */
export function openBatch(
  key: Buffer,
  subject: string,
  epoch: string,
  data: Uint8Array,
): LogBatch | undefined {
  const value = openJson(key, context(subject, epoch), data) as
    | { f?: unknown; t?: unknown; e?: unknown }
    | undefined;
  if (typeof value !== 'object' || value === null || typeof value.t !== 'string') return undefined;
  if (!isCount(value.f) || value.f < 1 || !Array.isArray(value.e) || value.e.length === 0) return undefined;
  const events: BatchEvent[] = [];
  for (const raw of value.e as unknown[]) {
    const event = parseEvent(raw);
    if (!event) return undefined;
    events.push(event);
  }
  return { first: value.f, events, token: value.t };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEvent(raw: unknown): BatchEvent | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as { i?: unknown; m?: unknown; w?: unknown };
  if (typeof r.i !== 'string' || !/^[0-9a-f]{32}$/.test(r.i)) return undefined;
  if (r.m !== undefined) {
    const data = parseMessage(r.m);
    return data ? { id: r.i, event: { kind: 'message', data } } : undefined;
  }
  const w = r.w as { by?: unknown; n?: unknown; from?: unknown } | undefined;
  if (typeof w !== 'object' || w === null) return undefined;
  if (typeof w.by !== 'string' || !isCount(w.n) || !isCount(w.from)) return undefined;
  return { id: r.i, event: { kind: 'wipe', by: w.by, wiped: w.n }, from: w.from };
}

function parseMessage(raw: unknown): MessageData | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Partial<Record<keyof MessageData, unknown>>;
  if (typeof m.id !== 'string' || typeof m.text !== 'string') return undefined;
  if (typeof m.user_id !== 'string' || typeof m.username !== 'string') return undefined;
  if (typeof m.timestamp !== 'number' && typeof m.timestamp !== 'string') return undefined;
  const data: MessageData = {
    id: m.id,
    text: m.text,
    timestamp: m.timestamp,
    user_id: m.user_id,
    username: m.username,
  };
  if (m.user_ip === '') data.user_ip = '';
  return data;
}
