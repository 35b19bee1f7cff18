/**
 * Notices that the reader of stdout has gone while there is nothing to write: a `--follow`
 * reader in a quiet room piped to `head -1` would otherwise run until the next message, as
 * a process learns of a closed pipe only when it writes.
 *
 * Linux reports a pipe whose readers have all gone as an error on its write end (POLLERR),
 * but Node cannot wait for that: libuv will not read from a write-only descriptor, a write of
 * zero bytes succeeds without a reader, and inotify sees nothing on a pipe. GNU tail can:
 * with `-f` and its stdout a pipe it checks that pipe for POLLERR at every interval and ends
 * by SIGPIPE once nobody reads it. So a `tail -f /dev/null` sharing our stdout (it writes
 * nothing to it) is the watch: no CPU of ours, and for tail one poll every half second.
 * `--pid` ends it within that interval if we are killed before we can stop it.
 *
 * Elsewhere (Windows, macOS and other tails, stdout not a pipe) there is no watch, and the
 * end of the reader is noticed at the next write, as before.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, fstatSync } from 'node:fs';

/** Where GNU tail lives; a fixed path, never looked up in $PATH. */
const TAIL_PATHS = ['/usr/bin/tail', '/bin/tail'];
/** Seconds between two checks of the pipe by tail. */
const CHECK_INTERVAL = '0.5';

export interface ReaderWatch {
  stop(): void;
}

function isPipe(fd: number): boolean {
  try {
    return fstatSync(fd).isFIFO();
  } catch {
    return false;
  }
}

/**
 * Calls `onGone` once the last reader of the pipe on `fd` has closed it. Undefined when that
 * cannot be watched here (not Linux, no tail, `fd` not a pipe): the caller then learns of it
 * when a write fails with EPIPE.
 */
export function watchPipeReader(fd: number, onGone: () => void): ReaderWatch | undefined {
  if (process.platform !== 'linux' || !isPipe(fd)) return undefined;
  const tail = TAIL_PATHS.find((path) => existsSync(path));
  if (tail === undefined) return undefined;
  let child: ChildProcess;
  try {
    // No environment: nothing of ours (a password in CMD_CHAT_PASSWORD) goes to the child.
    child = spawn(tail, [`--pid=${process.pid}`, '-s', CHECK_INTERVAL, '-f', '/dev/null'], {
      stdio: ['ignore', fd, 'ignore'],
      env: {},
    });
  } catch {
    return undefined;
  }
  let stopped = false;
  child.on('error', () => {});
  // Only SIGPIPE means the reader has gone: a tail without --pid (BusyBox) exits 1 at once,
  // and a Ctrl-C of the pipeline ends it by SIGINT.
  child.once('exit', (_code, signal) => {
    if (!stopped && signal === 'SIGPIPE') onGone();
  });
  // It must not keep the process alive, nor outlive it.
  child.unref();
  return {
    stop: () => {
      if (stopped) return;
      stopped = true;
      child.kill();
    },
  };
}
