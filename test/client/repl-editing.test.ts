/**
 * Line editing in a real pseudo-terminal: text that arrives in one read (a bracketed paste,
 * an IME commit, fast typing) is inserted at the cursor, at every cursor position, and two
 * Tabs in one read complete instead of inserting a tab. What is sent is checked at another
 * member, what is shown on the screen in the pty.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { replRoom } from '../helpers/pty.js';

const PASSWORD = 'pw';
const LEFT = '\x1b[D';
const RIGHT = '\x1b[C';

describe('REPL line editing with multi-character reads', () => {
  const repl = replRoom({
    password: PASSWORD,
    daemonArgs: ['--rate', '0', '--rate-bytes', '0'],
    reader: true,
    alice: true,
  });

  let sent = 0;
  /** Alice sends her line: the reader gets it as her next message, exactly `text`. */
  async function sendAndCheck(text: string): Promise<void> {
    const { alice, reader } = repl;
    alice.write('\r');
    sent++;
    const n = sent;
    await reader.waitFor(
      (evs) => evs.filter((e) => e.type === 'message' && e.user === 'alice').length >= n,
      `message ${n}`,
    );
    const mine = reader.events().filter((e) => e.type === 'message' && e.user === 'alice');
    assert.equal(mine[n - 1]!.text, text);
  }

  /** Types `base`, moves left to `position`, writes `chunk` in ONE write, checks and sends. */
  async function insertAt(
    base: string,
    position: number,
    chunk: string,
    inserted: string,
    result?: string,
  ): Promise<void> {
    const { alice } = repl;
    const chars = [...base];
    const expected = result ?? chars.slice(0, position).join('') + inserted + chars.slice(position).join('');
    alice.write(base);
    await alice.waitForScreen((s) => s.cursorLine() === `[chat] alice> ${base}`, `typed ${base}`);
    alice.write(LEFT.repeat(chars.length - position));
    // Let the cursor moves land as their own reads before the chunk under test.
    await new Promise((r) => setTimeout(r, 30));
    alice.write(chunk);
    await alice.waitForScreen(
      (s) => s.cursorLine() === `[chat] alice> ${expected}`.trimEnd(),
      `${JSON.stringify(chunk)} at ${position} of ${base}`,
    );
    await sendAndCheck(expected);
  }

  test('a bracketed paste lands at the cursor, at every position', async () => {
    for (let p = 0; p <= 3; p++) await insertAt('abc', p, '\x1b[200~XY\x1b[201~', 'XY');
  });

  test('an IME commit of CJK in one read lands at the cursor, at every position', async () => {
    for (let p = 0; p <= 2; p++) await insertAt('ab', p, '世界', '世界');
    // Wide characters before the cursor too.
    for (let p = 0; p <= 2; p++) await insertAt('日本', p, '語x', '語x');
  });

  test('fast typing in one read lands at the cursor, at every position', async () => {
    for (let p = 0; p <= 11; p++) await insertAt('hello world', p, 'big ', 'big ');
  });

  test('keys and text mixed in one read are applied in order', async () => {
    // "ab", then in one read: Left, "X", Home, "[", End, "]".
    await insertAt('ab', 2, `${LEFT}X\x01[\x05]`, '', '[aXb]');
  });

  test('two Tabs in one read complete, never insert a tab', async () => {
    const { alice } = repl;
    alice.write('/wh');
    await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice> /wh', 'typed /wh');
    alice.write('\t\t');
    await alice.waitForScreen((s) => /^\[chat\] alice> \/who ?$/.test(s.cursorLine()), '/who completed');
    alice.write('\x15'); // Ctrl-U clears the line
    await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice>', 'an empty line');
  });

  /**
   * Types `typed`, then each step (keys, and text the step types after them), checking the
   * screen after each: the line as expected and the cursor where the next text lands. Then
   * sends it and checks what arrived.
   */
  async function edit(typed: string, steps: Array<{ keys: string; screen: string }>): Promise<void> {
    const { alice } = repl;
    alice.write(typed);
    await alice.waitForScreen((s) => s.cursorLine() === `[chat] alice> ${typed}`, `typed ${typed}`);
    let line = typed;
    for (const step of steps) {
      alice.write(step.keys);
      await alice.waitForScreen(
        (s) => s.cursorLine() === `[chat] alice> ${step.screen}`.trimEnd(),
        `${JSON.stringify(step.keys)} on ${JSON.stringify(line)} → ${JSON.stringify(step.screen)}`,
      );
      line = step.screen;
    }
    await sendAndCheck(line);
  }

  const FAMILY = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}'; // 👨‍👩‍👧
  const FR = '\u{1F1EB}\u{1F1F7}';
  const DE = '\u{1F1E9}\u{1F1EA}';
  const E_ACUTE = 'e\u0301'; // e + combining acute

  test('cursor keys and Backspace step over a ZWJ family as one character', async () => {
    await edit(`x${FAMILY}y`, [
      { keys: LEFT, screen: `x${FAMILY}y` },
      { keys: '\x7f', screen: 'xy' }, // Backspace: the whole family, nothing left of it
      { keys: 'Z', screen: 'xZy' }, // the cursor is right after x
      { keys: `${LEFT}${FAMILY}${RIGHT}${RIGHT}`, screen: `x${FAMILY}Zy` },
      { keys: '!', screen: `x${FAMILY}Zy!` }, // Right twice from before Z: the end
    ]);
  });

  test('flags and combining accents are one character to Left, Delete and Backspace', async () => {
    await edit(`${FR}${DE}`, [{ keys: `${LEFT}-`, screen: `${FR}-${DE}` }]);
    await edit(`a${E_ACUTE}b`, [
      { keys: `${LEFT}${LEFT}\x1b[3~`, screen: 'ab' }, // Delete removes e and its accent
      { keys: `${E_ACUTE}${E_ACUTE}\x7f`, screen: `a${E_ACUTE}b` },
    ]);
  });

  test('Ctrl-W and Ctrl-U next to a family leave no part of it behind', async () => {
    await edit(`hello ${FAMILY} there`, [
      { keys: LEFT.repeat(5), screen: `hello ${FAMILY} there` },
      { keys: '\x17', screen: 'hello there' }, // Ctrl-W: the family and its space
      { keys: '\x15', screen: 'there' }, // Ctrl-U: everything before the cursor
      { keys: `${FAMILY}|`, screen: `${FAMILY}|there` },
    ]);
  });
});
