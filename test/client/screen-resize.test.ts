/**
 * A resize the REPL has not been told of yet (its signal still on its way) while lines arrive:
 * on a terminal that reflows, the input's rows counted at the old width made a printed line
 * erase a received line above the prompt (wider) or leave a copy of the prompt (narrower).
 * The REPL's screen writes into a terminal model that reflows at the resize (as tmux, VTE or
 * kitty do), and the process is told of it only afterwards, as a late SIGWINCH would.
 */
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import { ReplScreen } from '../../lib/client/repl/screen.js';
import { Screen } from '../helpers/pty.js';

/** The terminal side: a reflowing screen model, its real size, and what the process believes. */
class LateSignalTerminal extends Writable {
  readonly isTTY = true;
  columns: number;
  rows: number;
  readonly screen: Screen;
  private size: [number, number];

  constructor(columns: number, rows: number) {
    super({ decodeStrings: false });
    this.columns = columns;
    this.rows = rows;
    this.size = [columns, rows];
    this.screen = new Screen(columns, rows, true);
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, done: () => void): void {
    this.screen.feed(String(chunk));
    done();
  }

  getWindowSize(): [number, number] {
    return this.size;
  }

  /** The window is resized: the terminal reflows now, the process hears of it later. */
  resizeWindow(columns: number, rows: number): void {
    this.size = [columns, rows];
    this.screen.resize(columns, rows);
  }

  /** The signal arrives: what Node does on SIGWINCH (a 'resize' only when the size changed). */
  signal(): void {
    const [columns, rows] = this.size;
    if (columns === this.columns && rows === this.rows) return;
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

/** Lets the screen draw (it draws at most once a frame, on a timer). */
const drawn = async (): Promise<void> => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setImmediate(resolve));
};

const PROMPT = '[chat] rs4> ';
/** 70 distinct characters: prompt and input take 2 rows at 50 columns, 1 at 100. */
const INPUT = Array.from({ length: 7 }, (_, i) => `<${String(i).padStart(6, '0')}>__`).join('');

async function typedScreen(columns: number): Promise<{ term: LateSignalTerminal; repl: ReplScreen }> {
  const term = new LateSignalTerminal(columns, 30);
  const repl = new ReplScreen({
    input: new PassThrough() as unknown as NodeJS.ReadStream,
    output: term as unknown as NodeJS.WriteStream,
    prompt: PROMPT,
    completer: (line: string) => [[], line],
    reflows: true,
    plain: false,
  });
  repl.printAbove('a line before the draft');
  repl.start();
  repl.keys.write(INPUT);
  await drawn();
  assert.ok(
    term.screen
      .history()
      .join('')
      .endsWith(PROMPT + INPUT),
    'the draft is typed',
  );
  return { term, repl };
}

function check(term: LateSignalTerminal, repl: ReplScreen, printed: string): void {
  const history = term.screen.history();
  const text = history.join('\n');
  for (const line of ['a line before the draft', printed]) {
    assert.equal(history.filter((l) => l.includes(line)).length, 1, `"${line}" once:\n${text}`);
  }
  assert.equal(history.filter((l) => l.startsWith(PROMPT.trimEnd())).length, 1, `one prompt:\n${text}`);
  assert.ok(text.replaceAll('\n', '').endsWith(PROMPT + INPUT), `the draft last:\n${text}`);
  repl.close();
}

test('wider before the signal: a line printed meanwhile erases nothing above the prompt', async () => {
  const { term, repl } = await typedScreen(50);
  term.resizeWindow(100, 30);
  repl.printAbove('arrived before the signal');
  await drawn();
  term.signal();
  await drawn();
  check(term, repl, 'arrived before the signal');
});

test('narrower before the signal: a line printed meanwhile leaves no copy of the prompt', async () => {
  const { term, repl } = await typedScreen(100);
  term.resizeWindow(50, 30);
  repl.printAbove('arrived before the signal');
  await drawn();
  term.signal();
  await drawn();
  check(term, repl, 'arrived before the signal');
});
