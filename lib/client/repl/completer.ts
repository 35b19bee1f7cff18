/**
 * Tab completion for the REPL's readline: a command name at the start of the line (from the
 * command registry); a command name after `/help`; one of the user's rooms after `/switch`,
 * `/join` and `/part`, or for any word starting with "#" (`/msg #ops frank`); otherwise the
 * member name being typed as the last word (with or without "@"), case-insensitively, from
 * every room after `/msg`. Names come from the network or the command line, so only names
 * that are already clean (sanitising leaves them unchanged) are ever offered: readline writes
 * candidates straight to the terminal.
 */

import { isCleanName } from '../sanitize.js';
import { completeCommand } from '../slash-commands.js';

/** readline's completer result: candidates and the text they replace. */
export type Completion = [string[], string];

/** Commands whose argument is one of the user's rooms. */
const ROOM_COMMANDS = /^\/(switch|sw|join|part|leave)\s+(\S*)$/i;
/** `/help` and its alias, whose argument is a command. */
const HELP_TOPIC = /^\/(help|\?)\s+(\S*)$/i;
/** Commands whose argument is a member of any of the user's rooms. */
const PRIVATE = /^\/(msg|m)\s+(#\S+\s+)?\S*$/i;

/** Names starting with `prefix` (case-insensitively), each with `mark` before it, sorted. */
function matching(names: readonly string[], prefix: string, mark: string): string[] {
  const p = prefix.toLowerCase();
  const seen = new Set<string>();
  for (const name of names) {
    if (!isCleanName(name) || /\s/.test(name)) continue;
    if (name.toLowerCase().startsWith(p)) seen.add(mark + name);
  }
  return [...seen].sort();
}

/**
 * Completes `line` (the text before the cursor) against commands, `members` (of the current
 * room), `rooms` (the user's rooms) and `everyMember` (of every room, for /msg).
 */
export function complete(
  line: string,
  members: readonly string[],
  rooms: readonly string[] = [],
  everyMember: readonly string[] = members,
): Completion {
  if (line.startsWith('/') && !line.startsWith('//') && !/\s/.test(line)) {
    return [completeCommand(line, true), line];
  }
  const topic = HELP_TOPIC.exec(line);
  if (topic) {
    const word = topic[2]!;
    const slash = word.startsWith('/') ? '' : '/';
    const names = completeCommand(slash + word, true).map((n) => (slash ? n.slice(1) : n));
    return [names, word];
  }
  const word = /(\S*)$/.exec(line)![1]!;
  if (ROOM_COMMANDS.test(line) || word.startsWith('#')) {
    const hash = word.startsWith('#') ? '#' : '';
    return [matching(rooms, word.slice(hash.length), hash), word];
  }
  const at = word.startsWith('@') ? '@' : '';
  const prefix = word.slice(at.length);
  if (prefix === '' && at === '') return [[], word];
  return [matching(PRIVATE.test(line) ? everyMember : members, prefix, at), word];
}
