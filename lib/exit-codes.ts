/**
 * Process exit codes of the `cmd-chat` command, one place for the CLI, the docs and the tests.
 */
export const ExitCode = {
  /** Finished normally (stdin ended and every line was delivered, or the user quit). */
  ok: 0,
  /** An unexpected internal error. */
  internal: 1,
  /** Bad command line or options. */
  usage: 2,
  /** The daemon (or the proxy in front of it) could not be reached. */
  cannotConnect: 3,
  /** Wrong password or unknown room: the two are deliberately indistinguishable. */
  authFailed: 4,
  /** The daemon refused us: busy, name taken, version or legacy mode not accepted. */
  refused: 5,
  /** The connection dropped after we were in the room, or the daemon shut down. */
  connectionLost: 6,
  /** Pipe mode: a line was not sent (over the message limit); the other lines were delivered. */
  notSent: 7,
  /** The peer does not speak cmd-chat's protocol. */
  notCmdChat: 8,
  /**
   * A `--follow` pipe reader was told messages were lost (its outage outlasted the daemon's
   * resume window); outranks 0, 6, 7 and 130: whatever else happened, the output has a hole.
   */
  messagesLost: 9,
  /** Interrupted by SIGINT before finishing. */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
