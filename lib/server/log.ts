/**
 * The daemon's log on stderr. By default a line carries counts and error kinds only; names,
 * room names and addresses appear only with `--verbose`, through `detail()`.
 */
import type { Writable } from 'node:stream';

export interface Logger {
  info(message: string): void;
  /** A line that names people, rooms or addresses: written only in verbose mode. */
  detail(message: string): void;
  readonly verbose: boolean;
}

/** Line breaks, other controls and bidi or zero-width characters: escaped, so no input forges a line. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/gu;

/** A message as one safe log line: every unsafe character as `\uXXXX`. */
export function escapeLogText(message: string): string {
  return message.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function createLogger(out: Writable, verbose: boolean): Logger {
  const write = (message: string): void => {
    const time = new Date().toISOString().slice(11, 19);
    out.write(`${time} cmd-chat: ${escapeLogText(message)}\n`);
  };
  return {
    verbose,
    info: write,
    detail: (message) => {
      if (verbose) write(message);
    },
  };
}
