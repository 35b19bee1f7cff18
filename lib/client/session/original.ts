/**
 * The original protocol's side of a client session (`--legacy`): plaintext frames from an
 * original v1 daemon made to look like ours, and bare-text Fernet tokens (no envelope, no
 * sender claim, no id) sealed and opened as v1 clients do. Kept apart so the main path of
 * the session speaks only the current protocol.
 */
import type { Fernet } from '../../crypto/fernet.js';
import { parseObject } from '../../protocol/codec.js';
import { type Member, readServerFrame, type ServerFrame } from '../../protocol/frames.js';

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
export function sealBareText(fernet: Fernet, username: string, kind: 'text' | 'me', body: string): string {
  return fernet.encrypt(kind === 'me' ? `* ${username} ${body}` : body);
}

/** Opens a bare-text token; undefined when it does not decrypt. */
export function openBareText(fernet: Fernet, token: string): string | undefined {
  try {
    return fernet.decryptText(token);
  } catch {
    return undefined;
  }
}
