/**
 * The original protocol's adapters of a client session, off the main path: a legacy room of
 * a current daemon (`--legacy`: the channel, but bare-text Fernet tokens with no envelope,
 * sender claim or id) and an original daemon (`--original-protocol`: plaintext frames made
 * to look like ours, no channel, no keepalive, no rename or ping). Neither reconnects.
 */
import type { Fernet } from '../../crypto/fernet.js';
import { parseObject } from '../../protocol/codec.js';
import { type Member, readServerFrame, type ServerFrame } from '../../protocol/frames.js';
import type { ProtocolMode } from '../../protocol/handshake-client.js';
import { messageEvent, type ProtocolContext, type SessionProtocol } from './protocol.js';
import { channelRecords, type RecordLayer } from './records.js';
import { SeenIds } from './seen-ids.js';

/** Why a command is not available against an original daemon. */
const V1_UNSUPPORTED = 'not supported by an original (v1) cmd-chat daemon';

/**
 * The adapter of a legacy room ('legacy-room') or of an original daemon ('v1'). Replays are
 * dropped by token; against an original daemon our own messages are known by name only.
 */
export function bareProtocol(mode: ProtocolMode, context: ProtocolContext): SessionProtocol {
  const { fernet, view } = context;
  const original = mode === 'v1';
  const seen = new SeenIds();
  return {
    mode,
    resumable: false,
    maxInFlight: Number.POSITIVE_INFINITY,
    keepalive: !original,
    records: (keys) => (original ? originalRecords(context) : channelRecords(keys)),
    // An original daemon joined us during the handshake; its init is on its way.
    joinFrame: (username) => (original ? undefined : { type: 'join', username }),
    leaveFrame: () => undefined,
    unsupported: (what) => (original ? `${what} is ${V1_UNSUPPORTED}` : undefined),
    seal(kind, body) {
      // Shared with original clients: bare text, as the original sends it.
      const token = sealBareText(fernet, view.me.username, kind, body);
      return { id: token, kind, body, token, sealedFor: view.me.user_id };
    },
    messageFrame: (message) => ({ type: 'message', text: message.token }),
    open(data, history) {
      if (seen.has(data.text)) return undefined;
      const event = messageEvent(data, history, data.user_id === view.me.user_id);
      const body = openBareText(fernet, data.text);
      if (body === undefined) {
        event.undecryptable = true;
        return event;
      }
      event.body = body;
      seen.add(data.text);
      if (original && data.username === view.me.username) event.mine = true;
      if (event.mine) context.confirmed(data.text);
      return event;
    },
  };
}

/**
 * An original daemon's records: plaintext lines, read leniently (readV1Line); an error it
 * sends as text is reported as such.
 */
function originalRecords(context: ProtocolContext): RecordLayer {
  return {
    binary: false,
    seal: (frame) => `${JSON.stringify(frame)}\n`,
    open(line) {
      if (typeof line !== 'string') return [];
      const read = readV1Line(line, context.view.me, context.view.members);
      if (!read) return [];
      if ('error' in read) {
        context.daemonError(read.error);
        return [];
      }
      return [read.frame];
    },
    destroy: () => {},
  };
}

/** What a plaintext line from an original daemon turned out to be. */
export type V1Line = { frame: ServerFrame } | { error: string } | undefined;

/**
 * Reads a plaintext line from an original daemon: lenient, unknown or malformed lines are
 * skipped (undefined). Fills in what v1 frames leave out (our own identity in `init`, the
 * name of a leaving member, the id of a message's sender) from what the session knows.
 */
export function readV1Line(line: string, me: Member, members: ReadonlyMap<string, string>): V1Line {
  let frame: ServerFrame;
  try {
    const obj = parseObject(line);
    if (obj.type === undefined && obj.error !== undefined) {
      return { error: typeof obj.error === 'string' ? obj.error.slice(0, 200) : 'error' };
    }
    frame = readServerFrame(obj, true);
  } catch {
    return undefined;
  }
  if (frame.type === 'init') {
    frame.you = { user_id: me.user_id, username: me.username };
  } else if (frame.type === 'user_left' && frame.username === '') {
    frame.username = members.get(frame.user_id) ?? '';
  } else if (frame.type === 'message' && frame.data.user_id === '') {
    frame.data.user_id = userIdOf(members, frame.data.username);
  }
  return { frame };
}

/** The id of a member by name (v1 messages carry only the name). */
function userIdOf(members: ReadonlyMap<string, string>, username: string): string {
  for (const [id, name] of members) if (name === username) return id;
  return '';
}

/** A bare-text token as the original client sends it: `/me` becomes `* name text`. */
function sealBareText(fernet: Fernet, username: string, kind: 'text' | 'me', body: string): string {
  return fernet.encrypt(kind === 'me' ? `* ${username} ${body}` : body);
}

/** Opens a bare-text token; undefined when it does not decrypt. */
function openBareText(fernet: Fernet, token: string): string | undefined {
  try {
    return fernet.decryptText(token);
  } catch {
    return undefined;
  }
}
