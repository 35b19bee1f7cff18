/**
 * What the terminal can take, decided from the environment and the stream alone (no query
 * sent to the terminal): a dumb terminal gets plain lines only, a spinner needs a real width,
 * and a resize redraw must know whether the terminal re-wraps (reflows) what it shows.
 */

/** TERM=dumb (Emacs' shell buffer, some CI logs): no escape sequence of any kind. */
export function isDumbTerminal(env: NodeJS.ProcessEnv): boolean {
  return env['TERM'] === 'dumb';
}

/**
 * A spinner redraws its line in place: only on a terminal that is not dumb and reports a
 * width. A 0-column report (a serial console, some containers) made ora compute an infinite
 * line count and write escapes without end.
 */
export function spinnerUsable(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !isDumbTerminal(env) && (stream.columns ?? 0) > 0;
}

/**
 * True when the terminal re-wraps soft-wrapped lines on a resize (tmux, VTE, kitty, iTerm2,
 * Windows Terminal, alacritty, WezTerm, foot, Konsole …): after a resize the typed line sits
 * on the rows its new width gives. xterm (which sets XTERM_VERSION) and the Linux console
 * keep the rows as they were, cut or padded. Screen (STY) does not reflow either.
 */
export function terminalReflows(env: NodeJS.ProcessEnv): boolean {
  if (env['XTERM_VERSION'] || env['STY']) return false;
  return env['TERM'] !== 'linux';
}
