/**
 * The NDJSON event format of `--json`: one JSON object per line, for bots. The field names
 * are a stable interface; add fields, never rename or remove them.
 *
 *   {"type":"message","id":string,"time":ISO,"user":string,"user_id":string,
 *    "kind":"text"|"me","text":string,"mine":bool,"history":bool,
 *    "undecryptable"?:true,"claimed_from"?:string,
 *    "signature"?:"valid"|"unsigned"|"invalid"|"no_card","verified"?:true}
 *   {"type":"private","time":ISO,"from":string,"from_user_id":string,"to":string,
 *    "to_user_id":string,"text":string,"mine":bool,"undecryptable"?:true}
 *   {"type":"join"|"leave","time":ISO,"user":string,"user_id":string}
 *   {"type":"rename","time":ISO,"old":string,"new":string,"user_id":string}
 *   {"type":"cleared","time":ISO,"by":string}
 *   {"type":"error","time":ISO,"code":string,"message":string}
 *   {"type":"disconnected","time":ISO,"reason":string,"pending":number}
 *   {"type":"reconnecting","time":ISO,"attempt":number,"delay_ms":number,"reason"?:string}
 *   {"type":"reconnected","time":ISO,"attempt":number,"missed":number,"pending":number}
 *   {"v":1,"type":"gap","time":ISO,"lost":number,"wiped":number}   (after a reconnect: messages
 *     the daemon's resume window no longer held, and messages wiped, while we were away)
 *
 * After `reconnected` come the `missed` messages of the room's history this client had not
 * seen (`history: true`), then live events again. `disconnected` and `reconnecting` mean the
 * session is trying again by itself; it only ends (the process exits) when it gives up.
 *
 * `time` is ISO-8601 in UTC with milliseconds (`2024-05-01T12:34:56.789Z`), or null if the
 * daemon's timestamp is not a valid date. `text` is "" when `undecryptable` is true.
 * `claimed_from` is present only when the sender's encrypted `from` differs from the name the
 * daemon attributes (`user`): treat such a message as suspicious. `signature` says whether the
 * message is provably from the member `user_id` names: `valid` (signed by the key of that
 * member's card), `unsigned` (an original client, or legacy mode), `invalid` (forged, replayed
 * by another member, altered or re-attributed) or `no_card` (signed, but the member has no
 * valid card); absent for an undecryptable token and in the legacy modes (nothing is signed).
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

function isoTime(at: number): string | null {
  if (!Number.isFinite(at) || Math.abs(at) > 8.64e15) return null;
  return new Date(at).toISOString();
}

/** One event as a single JSON line (no trailing newline). */
export function eventToJson(ev: ChatEvent): string {
  const time = isoTime(ev.at);
  switch (ev.type) {
    case 'message': {
      const o: Record<string, string | boolean | null> = {
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
      return stringify(o);
    }
    case 'private': {
      const o: Record<string, string | boolean | null> = {
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
      return stringify(o);
    }
    case 'join':
    case 'leave':
      return stringify({ type: ev.type, time, user: ev.username, user_id: ev.userId });
    case 'rename':
      return stringify({ type: 'rename', time, old: ev.old, new: ev.new, user_id: ev.userId });
    case 'cleared':
      return stringify({ type: 'cleared', time, by: ev.by });
    case 'error':
      return stringify({ type: 'error', time, code: ev.code, message: ev.message });
    case 'shutdown':
      return stringify({ type: 'shutdown', time });
    case 'disconnected':
      return stringify({ type: 'disconnected', time, reason: ev.reason, pending: ev.pending });
    case 'reconnecting':
      return stringify({
        type: 'reconnecting',
        time,
        attempt: ev.attempt,
        delay_ms: ev.delayMs,
        ...(ev.reason !== undefined ? { reason: ev.reason } : {}),
      });
    case 'reconnected':
      return stringify({
        type: 'reconnected',
        time,
        attempt: ev.attempt,
        missed: ev.missed,
        pending: ev.pending,
      });
    case 'gap':
      return stringify({ v: 1, type: 'gap', time, lost: ev.lost, wiped: ev.wiped });
  }
}
