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

export function createLogger(out: Writable, verbose: boolean): Logger {
  const write = (message: string): void => {
    const time = new Date().toISOString().slice(11, 19);
    out.write(`${time} cmd-chat: ${message}\n`);
  };
  return {
    verbose,
    info: write,
    detail: (message) => {
      if (verbose) write(message);
    },
  };
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: Logger = { verbose: false, info: () => {}, detail: () => {} };
