/**
 * Tab completion for the REPL's readline: a command name at the start of the line (from the
 * command registry), otherwise the member name being typed as the last word (with or
 * without "@"), case-insensitively. Member names come from the network, so only names that
 * are already clean (sanitising leaves them unchanged) are ever offered: readline writes
 * candidates straight to the terminal.
 */
import { completeCommand } from './commands.js';
import { isCleanName } from './sanitize.js';

/** readline's completer result: candidates and the text they replace. */
export type Completion = [string[], string];

/** Completes `line` (the text before the cursor) against commands and `members`. */
export function complete(line: string, members: readonly string[]): Completion {
  if (line.startsWith('/') && !line.startsWith('//') && !/\s/.test(line)) {
    return [completeCommand(line, true), line];
  }
  const word = /(\S*)$/.exec(line)![1]!;
  const at = word.startsWith('@') ? '@' : '';
  const prefix = word.slice(at.length).toLowerCase();
  if (prefix === '' && at === '') return [[], word];
  const seen = new Set<string>();
  const names: string[] = [];
  for (const name of members) {
    if (!isCleanName(name) || /\s/.test(name)) continue;
    if (!name.toLowerCase().startsWith(prefix) || seen.has(name)) continue;
    seen.add(name);
    names.push(at + name);
  }
  return [names.sort(), word];
}
