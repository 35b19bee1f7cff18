/**
 * The REPL's screen under resizes and inputs taller than the window, and the pipe-only
 * options on a terminal: the compiled CLI in a real pseudo-terminal against a real daemon.
 * The screen model (test/helpers/pty.ts) resizes like xterm (no reflow) or, when asked, like
 * the terminals that reflow (tmux, VTE, kitty …), and keeps the rows that scroll off the top,
 * so stale copies of the input are visible to the assertions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runClient, startDaemonProcess } from '../helpers/processes.js';
import { replRoom, startPtyClient } from '../helpers/pty.js';

const PASSWORD = 'pw';

/** An input whose every 10 characters are unique, so each screen row of it can be found. */
function distinctInput(chars: number): string {
  let s = '';
  for (let i = 0; s.length < chars; i++) s += `<${String(i).padStart(6, '0')}>__`;
  return s.slice(0, chars);
}

/** The rows `text` occupies after `prompt` at `cols` columns (all ASCII). */
function rowsOf(prompt: string, text: string, cols: number): string[] {
  const all = prompt + text;
  const rows: string[] = [];
  for (let i = 0; i < all.length; i += cols) rows.push(all.slice(i, i + cols));
  return rows;
}

/** How many rows of `lines` hold each of `rows` (trailing spaces ignored). */
function copies(lines: string[], rows: string[]): number[] {
  return rows.map((r) => lines.filter((l) => l === r.trimEnd()).length);
}

describe('the REPL screen', () => {
  const repl = replRoom({ password: PASSWORD });
  const say = async (name: string, text: string): Promise<void> => {
    const r = await runClient(['127.0.0.1', String(repl.daemon.port), name], {
      input: `${text}\n`,
      env: { CMD_CHAT_PASSWORD: PASSWORD },
    });
    assert.equal(r.code, 0, r.stderr);
  };

  test('a resize redraws the input once, wrapped to the new width; lines still arrive above it', async () => {
    const alice = await repl.join('rs1');
    const prompt = '[chat] rs1> ';
    const input = distinctInput(130);
    alice.write(input);
    await alice.waitForScreen((s) => s.cursorLine().endsWith(input.slice(-10)), 'the typed input');
    alice.resize(50, 30);
    const expected = rowsOf(prompt, input, 50);
    await alice.waitForScreen(
      (s) => copies(s.lines(), expected).every((n) => n === 1),
      'the input redrawn at 50 columns, once',
    );
    await say('rs1b', 'after the resize');
    await alice.waitForScreen((s) => {
      const lines = s.lines();
      const msg = lines.findIndex((l) => l.endsWith('rs1b ?: after the resize'));
      const first = lines.indexOf(expected[0]!);
      return msg >= 0 && first > msg && copies(s.history(), expected).every((n) => n === 1);
    }, 'the message above a single copy of the input');
    alice.write('\x15'); // Ctrl-U
    alice.kill();
  });

  test('on a reflowing terminal: a wrapped draft, narrower, a message, wider: nothing lost, no copies', async () => {
    const dora = await repl.join('rs4', { reflow: true });
    const prompt = '[chat] rs4> ';
    const input = distinctInput(70);
    // Each `say` ends with a leave: a resize is made only once the REPL has drawn it. A line the
    // REPL drew for the old width, still in flight when the terminal reflows, lands on the new
    // one (as on a real terminal) and erased "while narrow" in two loaded runs.
    const leaves = (n: number): Promise<void> =>
      dora.waitForScreen(
        (s) => s.history().filter((l) => l.endsWith('-- rs4b left')).length === n,
        `rs4b's leave number ${n}`,
      );
    await say('rs4b', 'a line before the draft');
    await dora.waitForText('rs4b ?: a line before the draft');
    await leaves(1);
    dora.write(input);
    await dora.waitForScreen((s) => s.cursorLine().endsWith(input.slice(-10)), 'the typed input');
    const promptRows = (s: { history(): string[] }): number =>
      s.history().filter((l) => l.startsWith(prompt.trimEnd())).length;

    dora.resize(50, 30);
    const narrow = rowsOf(prompt, input, 50);
    await dora.waitForScreen(
      (s) => copies(s.lines(), narrow).every((n) => n === 1) && promptRows(s) === 1,
      'the draft at 50 columns, once',
    );
    await say('rs4b', 'while narrow');
    await dora.waitForScreen(
      (s) => s.lines().some((l) => l.endsWith('rs4b ?: while narrow')),
      'the message at 50 columns',
    );
    await leaves(2);
    dora.resize(100, 30);
    const wide = rowsOf(prompt, input, 100);
    await dora.waitForScreen(
      (s) => copies(s.lines(), wide).every((n) => n === 1),
      'the draft at 100 columns',
    );
    await new Promise((r) => setTimeout(r, 300));
    const lines = dora.screen.history();
    const text = lines.join('\n');
    assert.equal(lines.filter((l) => l.endsWith('rs4b ?: a line before the draft')).length, 1, text);
    assert.equal(lines.filter((l) => l.endsWith('rs4b ?: while narrow')).length, 1, text);
    assert.equal(promptRows(dora.screen), 1, `one prompt:\n${text}`);
    assert.equal(dora.screen.cursorLine(), (prompt + input).trimEnd());
    dora.write('\x15'); // Ctrl-U
    dora.kill();
  });

  test('an input taller than the window leaves no stale copies when lines arrive; they show after it', async () => {
    const bob = await repl.join('rs2', { cols: 50, rows: 12 });
    const prompt = '[chat] rs2> ';
    const input = distinctInput(50 * 14); // 15 rows at 50 columns, the window has 12
    bob.write(input);
    await bob.waitForScreen((s) => s.cursorLine().endsWith(input.slice(-10)), 'the typed input');
    const expected = rowsOf(prompt, input, 50);
    await say('rs2b', 'while the input fills the window');
    await say('rs2b', 'and another');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      copies(bob.screen.history(), expected).filter((n) => n !== 1),
      [],
      `every row of the input once:\n${bob.screen.history().join('\n')}`,
    );
    bob.write('\x15'); // Ctrl-U: the input is gone, what was held shows
    await bob.waitForScreen(
      (s) =>
        s.lines().some((l) => l.endsWith('rs2b ?: while the input fills the window')) &&
        s.lines().some((l) => l.endsWith('rs2b ?: and another')),
      'the held lines',
    );
    assert.equal(bob.screen.cursorLine(), prompt.trimEnd());
    bob.kill();
  });

  test("the client's own lines wrap at spaces to the width, continuations indented", async () => {
    const erin = await repl.join('ww1', { cols: 40 });
    const lines = erin.screen.history();
    const text = lines.join('\n');
    const i = lines.findIndex((l) => l.startsWith('-- room fingerprint'));
    assert.ok(i >= 0, text);
    const rows = [lines[i]!];
    for (let j = i + 1; lines[j]?.startsWith('   '); j++) rows.push(lines[j]!);
    assert.ok(rows.length > 1, `wrapped:\n${text}`);
    assert.ok(
      rows.every((r) => r.length <= 40),
      `within 40 columns:\n${rows.join('\n')}`,
    );
    // Joined at the breaks with one space, the words are whole: none was cut by the terminal.
    assert.match(
      rows.map((r) => r.trim()).join(' '),
      /^-- room fingerprint [A-Z0-9-]+: compare it with the others out of band$/,
    );
    erin.write('\x03'); // Ctrl-C on an empty line: a notice longer than 40 columns
    await erin.waitForScreen((s) => s.lines().includes('/quit)'), 'the notice wrapped before "/quit)"');
    const after = erin.screen.lines();
    assert.equal(after[after.indexOf('/quit)') - 1], 'press Ctrl-C again to leave (or type');
    erin.kill();
  });

  test('--json and --follow on a terminal say they apply to pipe mode only', async () => {
    const carol = await repl.join('rs3', { extraArgs: ['--json', '--follow'] });
    assert.ok(
      carol.screen
        .text()
        .includes('cmd-chat: --json and --follow apply to pipe mode only (stdin is a terminal); ignored'),
      carol.screen.text(),
    );
    carol.kill();
  });
});

describe('the history marker', () => {
  test('says how many older messages the daemon no longer keeps', async () => {
    const daemon = await startDaemonProcess(['--password', PASSWORD, '--history', '3']);
    const lines = Array.from({ length: 5 }, (_, i) => `old line ${i + 1}`).join('\n');
    const r = await runClient(['127.0.0.1', String(daemon.port), 'hist1'], {
      input: `${lines}\n`,
      env: { CMD_CHAT_PASSWORD: PASSWORD },
    });
    assert.equal(r.code, 0, r.stderr);
    const client = startPtyClient(daemon.port, 'hist2', { password: PASSWORD });
    try {
      await client.waitForText('-- 3 earlier messages (2 older no longer kept by the daemon) --', 20_000);
      // The header comes first; the messages under it are checked and drawn a slice at a time.
      await client.waitForText('old line 5', 20_000);
      const shown = client.screen.lines().filter((l) => / hist1\b.*: old line \d$/.test(l));
      assert.deepEqual(
        shown.map((l) => l.slice(-10)),
        ['old line 3', 'old line 4', 'old line 5'],
      );
    } finally {
      client.kill();
      await daemon.stop();
    }
  });
});

describe('the reconnection status', () => {
  test('is one row above the prompt, updated in place per attempt; lines only on a change', async () => {
    const daemon = await startDaemonProcess(['--password', PASSWORD]);
    const client = startPtyClient(daemon.port, 'rc1', { password: PASSWORD, cols: 60 });
    try {
      await client.waitForScreen((s) => s.cursorLine() === '[chat] rc1>', 'the prompt', 20_000);
      client.write('a draft');
      await daemon.stop('SIGINT');
      // Attempts 1, 2 and 3 come about 0.5, 1 and 2 s apart (with jitter).
      await client.waitForScreen(
        (s) => s.lines().some((l) => /attempt [3-9]/.test(l)),
        'the third attempt',
        20_000,
      );
      const rows = client.screen.history();
      const text = rows.join('\n');
      const statusRows = rows.filter((l) => /reconnecting in|attempt \d/.test(l));
      assert.equal(statusRows.length, 1, `one status row:\n${text}`);
      assert.ok(!statusRows[0]!.includes('\u2026') || statusRows[0]!.length <= 59, 'cut to the width');
      const status = rows.indexOf(statusRows[0]!);
      assert.equal(rows[status + 1], '[chat] rc1> a draft', `the prompt and draft right below:\n${text}`);
      assert.ok(client.raw().includes('attempt 2'), 'the row showed attempt 2 before');
      const lost = rows.filter((l) => l.includes('connection lost'));
      assert.ok(lost.length <= 2, `the loss is said once (a line, and in the status row):\n${text}`);
    } finally {
      client.kill();
    }
  });
});
