/**
 * What happens to a submitted REPL line: a message goes to the current room's session (the
 * typed line is erased, the daemon's echo shows it), a slash command runs from the registry
 * with a context bound to the current room, and its output appears above the prompt.
 */
import { type Colors, createColors } from '../colors.js';
import { sanitizeBody } from '../sanitize.js';
import {
  type CommandContext,
  findCommand,
  parseInput,
  type RoomControl,
  runCommand,
  type ViewState,
} from '../slash-commands.js';
import { wrapText } from '../wrap.js';
import { fromInputLine } from './paste.js';
import type { ReplRoom } from './room.js';
import type { ReplScreen } from './screen.js';

export interface DispatchOptions {
  screen: ReplScreen;
  color: boolean;
  daemon: string;
  /** Ends the REPL (/quit). */
  quit(): void;
  /** The client's rooms, for /join, /part, /rooms and /switch. */
  roomControl(): RoomControl;
  /** What the user chose to see in each room (a line takes back any /wipe still unconfirmed). */
  views(): readonly ViewState[];
}

export class LineDispatcher {
  private readonly c: Colors;

  constructor(private readonly options: DispatchOptions) {
    this.c = createColors(options.color);
  }

  /** A local line for the user, dimmed (wrapped at spaces to the terminal). */
  info(text: string): void {
    const { screen } = this.options;
    screen.printAbove(this.c.dim(wrapText(sanitizeBody(text), screen.columns)));
  }

  /** A local error line, in red (wrapped at spaces to the terminal). */
  error(text: string): void {
    const { screen } = this.options;
    screen.printAbove(this.c.red(wrapText(sanitizeBody(text), screen.columns)));
  }

  /** The commands' view of `room`. */
  contextFor(room: ReplRoom): CommandContext {
    const { screen, daemon } = this.options;
    return {
      session: room.session,
      view: room.view,
      daemon,
      interactive: true,
      info: (text) => this.info(text),
      error: (text) => this.error(text),
      clearScreen: () => screen.clearScreen(),
      quit: () => this.options.quit(),
      scrollback: room.scrollback,
      showEvents: (events, mark) => room.showEvents(events, mark),
      rooms: this.options.roomControl(),
    };
  }

  /** Handles a line submitted in `room`. */
  submit(room: ReplRoom, raw: string): void {
    const { screen } = this.options;
    const text = fromInputLine(raw);
    const parsed = parseInput(text);
    // A /wipe is confirmed only by the very next line: any other line takes it back.
    const confirming = parsed.kind === 'command' && findCommand(parsed.name)?.name === 'wipe';
    for (const view of this.options.views())
      if (!confirming || view !== room.view) view.wipeAskedAt = undefined;
    // A message (and /me, which is one) is erased: the daemon's echo shows it.
    if (parsed.kind !== 'command' || parsed.name.toLowerCase() === 'me') screen.eraseSubmitted(raw);
    const ctx = this.contextFor(room);
    if (parsed.kind === 'message') {
      try {
        // Not printed now: the daemon's echo is the receipt and is shown when it arrives.
        room.session.send(parsed.text);
        // Disconnected: it waits in the session's queue and goes after rejoining.
        if (!room.session.isConnected) this.info(`… pending (sent when reconnected): ${parsed.text}`);
      } catch (err) {
        ctx.error((err as Error).message);
      }
    } else if (parsed.kind === 'command') {
      runCommand(ctx, parsed.name, parsed.args).catch((err: unknown) => {
        ctx.error(err instanceof Error ? err.message : String(err));
      });
    }
    screen.prompt();
  }
}
