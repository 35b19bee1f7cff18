/**
 * The NDJSON event format of `--json`: one JSON object per line, for bots. The field names
 * are a stable interface; add fields, never rename or remove them. Every object starts with
 * `"v":1`, the schema version (raised only if a field is renamed, removed or changes meaning),
 * then `"room"` when the client is in several rooms, then the fields below.
 *
 *   {"type":"message","id":string,"time":ISO,"user":string,"user_id":string,
 *    "kind":"text"|"me","text":string,"mine":bool,"history":bool,
 *    "undecryptable"?:true,"claimed_from"?:string,
 *    "signature"?:"valid"|"unsigned"|"invalid"|"no_card","verified"?:true,
 *    "trust"?:"verified"|"unverified"|"changed"}
 *   {"type":"private","time":ISO,"from":string,"from_user_id":string,"to":string,
 *    "to_user_id":string,"text":string,"mine":bool,"undecryptable"?:true,
 *    "trust"?:"verified"|"unverified"|"changed"}
 *   {"type":"safety_phrase","time":ISO,"phrase":string,"members":number}
 *   {"type":"join"|"leave","time":ISO,"user":string,"user_id":string}
 *   {"type":"rename","time":ISO,"old":string,"new":string,"user_id":string}
 *   {"type":"cleared","time":ISO,"by":string}
 *   {"type":"error","time":ISO,"code":string,"message":string}
 *   {"type":"disconnected","time":ISO,"reason":string,"pending":number}
 *   {"type":"reconnecting","time":ISO,"attempt":number,"delay_ms":number,"reason"?:string}
 *   {"type":"reconnected","time":ISO,"attempt":number,"missed":number,"pending":number}
 *   {"type":"shutdown","time":ISO}
 *   {"type":"info","time":ISO,"text":string}   (the output of a command such as /who)
 *   {"type":"gap","time":ISO,"lost":number,"wiped":number}   (after a reconnect: messages
 *     the daemon's resume window no longer held, and messages wiped, while we were away)
 *
 * After `reconnected` come the `missed` events of the room this client had not seen, exactly
 * as many as `missed` says (the room log's head at the rejoin against the client's place in
 * it): messages with `history: true`, handed over in pages as the client's queue drains; a
 * `gap` first if the daemon's resume window no longer holds some of them; then live events.
 * `disconnected` and `reconnecting` mean the session is trying again by itself; it only ends
 * (the process exits) when it gives up.
 *
 * `time` is ISO-8601 in UTC with milliseconds (`2024-05-01T12:34:56.789Z`), or null if the
 * daemon's timestamp is not a valid date. `text` is "" when `undecryptable` is true.
 * `claimed_from` is present only when the sender's encrypted `from` differs from the name the
 * daemon attributes (`user`): treat such a message as suspicious. `signature` says whether the
 * message is provably from the member `user_id` names: `valid` (signed by the key of that
 * member's card), `unsigned` (an original client, or legacy mode), `invalid` (forged, replayed
 * by another member, altered or re-attributed) or `no_card` (signed, but the member has no
 * valid card); absent for an undecryptable token and in the legacy modes (nothing is signed).
 * `trust` is the state of the other member (the sender; for a private message of ours, its
 * recipient): `verified` (its key is the one pinned with --trust for its name, or was checked
 * with /verify in this session), `unverified`, or `changed` (its name, or a look-alike, is
 * pinned or was verified with another key: treat it as someone else; /msg to it is refused);
 * absent for our own messages and in the legacy modes. `safety_phrase` comes after joining
 * and whenever the membership changes: every member who sees the same members with the same
 * keys has the same phrase (compare it out of band).
 *
 * Strings are NOT sanitised for a terminal here: the values reach the bot exactly as sent.
 * The line itself is inert: JSON.stringify escapes C0 controls and lone surrogates, and we
 * also write DEL, C1 controls (0x9B is an 8-bit CSI), bidi and invisible format characters
 * and U+2028/U+2029 as \uXXXX escapes (same value once parsed). But a consumer that prints
 * `text` or `user` to a terminal must sanitise them first.
 */
import type { ChatEvent } from './events.js';

// Only ever inside JSON strings (the structure is ASCII), where \uXXXX means the same thing.
const UNSAFE_RAW = /[\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

function stringify(o: object): string {
  return JSON.stringify(o).replace(
    UNSAFE_RAW,
    (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'),
  );
}

/** The schema version every JSON line carries first. */
export const JSON_SCHEMA_VERSION = 1;

/** The fields of one JSON object, `type` first. */
export interface JsonFields {
  type: string;
  [field: string]: unknown;
}

/** One JSON line (no trailing newline): the schema version, the room if given, the fields. */
export function jsonLine(fields: JsonFields, room?: string): string {
  return stringify({ v: JSON_SCHEMA_VERSION, ...(room !== undefined ? { room } : {}), ...fields });
}

function isoTime(at: number): string | null {
  if (!Number.isFinite(at) || Math.abs(at) > 8.64e15) return null;
  return new Date(at).toISOString();
}

/** One event as a single JSON line (no trailing newline); `room` with several rooms. */
export function eventToJson(ev: ChatEvent, room?: string): string {
  return jsonLine(eventFields(ev), room);
}

function eventFields(ev: ChatEvent): JsonFields {
  const time = isoTime(ev.at);
  switch (ev.type) {
    case 'message': {
      const o: JsonFields = {
        type: 'message',
        id: ev.id,
        time,
        user: ev.username,
        user_id: ev.userId,
        kind: ev.kind,
        text: ev.undecryptable ? '' : ev.body,
        mine: ev.mine,
        history: ev.history,
      };
      if (ev.undecryptable) o['undecryptable'] = true;
      if (ev.forgedFrom !== undefined) o['claimed_from'] = ev.forgedFrom;
      if (ev.signature !== undefined) o['signature'] = ev.signature;
      if (ev.verified) o['verified'] = true;
      if (ev.trust !== undefined) o['trust'] = ev.trust;
      return o;
    }
    case 'private': {
      const o: JsonFields = {
        type: 'private',
        time,
        from: ev.from,
        from_user_id: ev.fromUserId,
        to: ev.to,
        to_user_id: ev.toUserId,
        text: ev.undecryptable ? '' : ev.body,
        mine: ev.mine,
      };
      if (ev.undecryptable) o['undecryptable'] = true;
      if (ev.trust !== undefined) o['trust'] = ev.trust;
      return o;
    }
    case 'join':
    case 'leave':
      return { type: ev.type, time, user: ev.username, user_id: ev.userId };
    case 'rename':
      return { type: 'rename', time, old: ev.old, new: ev.new, user_id: ev.userId };
    case 'cleared':
      return { type: 'cleared', time, by: ev.by };
    case 'safety_phrase':
      return { type: 'safety_phrase', time, phrase: ev.phrase, members: ev.members };
    case 'error':
      return { type: 'error', time, code: ev.code, message: ev.message };
    case 'shutdown':
      return { type: 'shutdown', time };
    case 'disconnected':
      return { type: 'disconnected', time, reason: ev.reason, pending: ev.pending };
    case 'reconnecting':
      return {
        type: 'reconnecting',
        time,
        attempt: ev.attempt,
        delay_ms: ev.delayMs,
        ...(ev.reason !== undefined ? { reason: ev.reason } : {}),
      };
    case 'reconnected':
      return {
        type: 'reconnected',
        time,
        attempt: ev.attempt,
        missed: ev.missed,
        pending: ev.pending,
      };
    case 'gap':
      return { type: 'gap', time, lost: ev.lost, wiped: ev.wiped };
    case 'restarted':
      return { type: 'restarted', time };
  }
}
