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
  /**
   * Pipe mode: a line was not sent (over the message limit, not valid UTF-8, a /msg nobody can
   * receive); the other lines were delivered.
   */
  notSent: 7,
  /** The peer answered, but not in cmd-chat's protocol (another service on that port). */
  notCmdChat: 8,
  /**
   * A `--follow` or pipe reader was told that messages were lost on the way to it; outranks
   * 0, 6, 7, 10 and 130, so a script cannot take a gap for a complete transcript.
   */
  messagesLost: 9,
  /**
   * Pipe mode with --commands: a command line failed (unknown, bad arguments, refused; after a
   * failed /switch nothing more is sent). Outranks notSent: the stderr lines name both.
   */
  commandFailed: 10,
  /** Interrupted by SIGINT before finishing. */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** One short phrase per exit code, for `--help`'s epilogue and the man page. */
export const EXIT_CODE_SUMMARY: ReadonlyArray<readonly [ExitCodeValue, string]> = [
  [ExitCode.ok, 'ok'],
  [ExitCode.internal, 'internal error'],
  [ExitCode.usage, 'usage'],
  [ExitCode.cannotConnect, 'cannot connect'],
  [ExitCode.authFailed, 'authentication failed'],
  [ExitCode.refused, 'refused'],
  [ExitCode.connectionLost, 'connection lost'],
  [ExitCode.notSent, 'a line not sent'],
  [ExitCode.notCmdChat, 'not a cmd-chat daemon'],
  [ExitCode.messagesLost, 'messages were lost'],
  [ExitCode.commandFailed, 'a command failed (--commands)'],
  [ExitCode.interrupted, 'interrupted'],
];
