/**
 * The interactive client as a person uses it: the compiled CLI in a real pseudo-terminal
 * against a real daemon, with other members as real pipe-mode processes. Assertions are on
 * what the screen shows (test/helpers/pty.ts) and on what the other members receive.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { commands } from '../../lib/client/slash-commands.js';
import { runClient, startDaemonProcess } from '../helpers/processes.js';
import { replRoom, startJsonReader, startPtyClientAtPrompt, waitFor } from '../helpers/pty.js';

const PASSWORD = 'pw';
const env = { CMD_CHAT_PASSWORD: PASSWORD };

/** Sends `input` from a short-lived pipe-mode member and checks it exited cleanly. */
async function say(port: number, name: string, input: string): Promise<void> {
  const result = await runClient(['127.0.0.1', String(port), name], { input, env });
  assert.equal(result.code, 0, result.stderr);
}

describe('the REPL in a pseudo-terminal', () => {
  const repl = replRoom({ password: PASSWORD });

  test('a typed line is sent, and shown when the daemon echoes it', async () => {
    const reader = await startJsonReader(repl.daemon.port, 'reader1');
    try {
      const alice = await repl.join('alice1');
      alice.write('hello');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice1> hello', 'the typed text');
      alice.write('\r');
      assert.equal(await reader.waitForMessage('alice1'), 'hello');
      await alice.waitForScreen((s) => s.lines().some((l) => / » alice1: hello$/.test(l)), 'own line marked');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice1>', 'an empty prompt again');
      alice.kill();
    } finally {
      await reader.stop();
    }
  });

  test('a message arriving while half a line is typed does not destroy it', async () => {
    const reader = await startJsonReader(repl.daemon.port, 'reader2');
    try {
      const alice = await repl.join('alice2');
      alice.write('half a li');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice2> half a li', 'the half line');
      await say(repl.daemon.port, 'bob2', 'incoming!\n');
      await alice.waitForScreen((s) => {
        const lines = s.lines();
        const msg = lines.findIndex((l) => l.endsWith('bob2 ?: incoming!'));
        const input = lines.indexOf('[chat] alice2> half a li');
        return msg >= 0 && input > msg && s.cursorLine() === '[chat] alice2> half a li';
      }, "bob's message above the intact input line");
      await alice.waitForText('-- bob2 left');
      alice.write('ne\r');
      assert.equal(await reader.waitForMessage('alice2'), 'half a line');

      // An input line that wraps onto a second row survives as well, with no gap left behind.
      const long = 'x'.repeat(85) + ' wrapped tail'; // the prompt takes 15 of the 100 columns
      alice.write(long);
      await alice.waitForScreen((s) => s.cursorLine() === ' wrapped tail', 'the wrapped input');
      await say(repl.daemon.port, 'bob2b', 'again\n');
      await alice.waitForScreen((s) => {
        const lines = s.lines();
        const msg = lines.findIndex((l) => l.endsWith('bob2b ?: again'));
        const last = lines.findIndex((l) => l.endsWith('-- bob2b left'));
        return (
          msg >= 1 &&
          lines[msg - 1]!.endsWith('-- bob2b joined') &&
          last === msg + 1 &&
          lines[last + 1] === `[chat] alice2> ${long}`.slice(0, 100) &&
          lines[last + 2] === ' wrapped tail' &&
          s.cursorLine() === ' wrapped tail'
        );
      }, 'the message right above the intact two-row input');
      alice.kill();
    } finally {
      await reader.stop();
    }
  });

  test('Tab completes command names and member names', async () => {
    const bob = await startJsonReader(repl.daemon.port, 'bob3');
    try {
      const alice = await repl.join('alice3');
      alice.write('/wh');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice3> /wh', 'the typed prefix');
      alice.write('\t');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice3> /who', '/wh completed to /who');
      alice.write('\r');
      await alice.waitForText('2 in chat: alice3 (you), bob3 ?');
      alice.write('hi bo');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice3> hi bo', 'the name prefix');
      alice.write('\t');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice3> hi bob3', 'bo completed to bob3');
      alice.write(' and @BO\t');
      await alice.waitForScreen(
        (s) => s.cursorLine() === '[chat] alice3> hi bob3 and @bob3',
        'case-insensitive @ completion',
      );
      alice.write('\r');
      assert.equal(await bob.waitForMessage('alice3'), 'hi bob3 and @bob3');
      alice.kill();
    } finally {
      await bob.stop();
    }
  });

  test('/clear, /help, /who, /me, /nick, /status and /quit', async () => {
    const carol = await startJsonReader(repl.daemon.port, 'carol4');
    try {
      const alice = await repl.join('alice4');
      const fingerprint = /room fingerprint (\S+):/.exec(alice.screen.text())?.[1];
      assert.ok(fingerprint, 'the welcome shows the room fingerprint');

      alice.write('/clear\r');
      await alice.waitForScreen((s) => s.lines()[0] === '[chat] alice4>', 'a cleared screen');
      alice.write('/help\r');
      await alice.waitForText('//text');
      const lines = alice.screen.lines();
      for (const cmd of commands) {
        assert.ok(
          lines.some((l) => l.startsWith(`/${cmd.name}`)),
          `/help lists /${cmd.name}:\n${alice.screen.text()}`,
        );
      }

      alice.write('/who\r');
      await alice.waitForText('2 in chat: alice4 (you), carol4 ?');

      alice.write('/me waves\r');
      await alice.waitForScreen(
        (s) => s.lines().some((l) => l.endsWith('* alice4 waves')),
        'the action line',
      );
      await carol.waitForMessage('alice4');
      const action = carol.events().find((e) => e['type'] === 'message' && e['user'] === 'alice4');
      assert.equal(action?.['kind'], 'me');
      assert.equal(action?.['text'], 'waves');

      alice.write('/nick alice4b\r');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice4b>', 'the prompt with the new name');
      await alice.waitForText('-- alice4 is now alice4b');
      await waitFor(
        () =>
          carol
            .events()
            .some((e) => e['type'] === 'rename' && e['old'] === 'alice4' && e['new'] === 'alice4b'),
        () => 'the others to see the rename',
      );

      alice.write('/status\r');
      await alice.waitForText('round-trip time:');
      const text = alice.screen.text();
      assert.match(text, /round-trip time: \d+(\.\d+)? ms/);
      assert.ok(text.includes(`room fingerprint: ${fingerprint}`), text);
      assert.match(text, /cipher suite: SRP-6a/);

      alice.write('/quit\r');
      assert.equal(await alice.exited, 0);
    } finally {
      await carol.stop();
    }
  });

  test('the room history is shown on joining', async () => {
    await say(repl.daemon.port, 'dave10', 'remember me\n');
    const alice = await repl.join('alice10');
    const lines = alice.screen.lines();
    const welcome = lines.findIndex((l) => l.includes('type /help'));
    const marker = lines.findIndex((l) => /^-- \d+ earlier messages? --$/.test(l));
    const old = lines.findIndex((l) => l.endsWith('dave10 ?: remember me'));
    const now = lines.indexOf('-- now --');
    assert.ok(
      welcome >= 0 && marker > welcome && old > marker && now > old,
      `history set apart after the welcome:\n${alice.screen.text()}`,
    );
    alice.kill();
  });

  test('a hostile message is shown inert', async () => {
    const alice = await repl.join('alice5');
    await say(repl.daemon.port, 'mallory5', 'evil \x1b]0;pwned\x07 \x1b[2J \x1bc \x1b[5;5H\x1b[1Amoved\n');
    await alice.waitForScreen(
      (s) => s.lines().some((l) => l.endsWith('mallory5 ?: evil ␛ ␛ ␛ ␛␛moved')),
      'the message with its escapes made visible',
    );
    const raw = alice.raw();
    for (const bad of ['\x1b]0;pwned', '\x1b[2J', '\x1bc', '\x1b[5;5H', 'pwned']) {
      assert.ok(!raw.includes(bad), `raw output contains ${JSON.stringify(bad)}`);
    }
    // Nothing was cleared: the welcome is still there, and the prompt still works.
    assert.ok(alice.screen.text().includes('type /help'), alice.screen.text());
    assert.equal(alice.screen.cursorLine(), '[chat] alice5>');
    alice.kill();
  });

  test('a bracketed paste of several lines is sent as one message', async () => {
    const reader = await startJsonReader(repl.daemon.port, 'reader6');
    try {
      const alice = await repl.join('alice6');
      alice.write('\x1b[200~line one\nline two\x1b[201~');
      await alice.waitForScreen(
        (s) => s.cursorLine() === '[chat] alice6> line one⏎line two',
        'the paste shown',
      );
      alice.write('\r');
      assert.equal(await reader.waitForMessage('alice6'), 'line one\nline two');
      await alice.waitForScreen((s) => {
        const lines = s.lines();
        const i = lines.findIndex((l) => l.endsWith('» alice6: line one'));
        return i >= 0 && /^ +line two$/.test(lines[i + 1] ?? '');
      }, 'the echo rendered as one indented message');
      alice.write('after\r');
      await alice.waitForScreen((s) => s.lines().some((l) => l.endsWith('alice6: after')), 'the next echo');
      // Alice's echo can reach her before the other process reads the same message.
      const isMine = (e: Record<string, unknown>): boolean =>
        e['type'] === 'message' && e['user'] === 'alice6';
      await reader.waitFor((evs) => evs.filter(isMine).length >= 2, 'the second message', 10_000);
      const mine = reader.events().filter(isMine);
      assert.deepEqual(
        mine.map((e) => e['text']),
        ['line one\nline two', 'after'],
      );
      // Ctrl-C on an empty line asks first; a second press quits cleanly.
      alice.write('\x03');
      await alice.waitForText('press Ctrl-C again to leave');
      assert.equal(alice.exitCode(), undefined);
      alice.write('\x03');
      assert.equal(await alice.exited, 0);
    } finally {
      await reader.stop();
    }
  });

  test('an unknown command sends nothing; //text sends a leading slash', async () => {
    const reader = await startJsonReader(repl.daemon.port, 'reader7');
    try {
      const alice = await repl.join('alice7');
      alice.write('/frobnicate\r');
      await alice.waitForText('unknown command /frobnicate');
      alice.write('//slash\r');
      assert.equal(await reader.waitForMessage('alice7'), '/slash');
      const mine = reader.events().filter((e) => e['type'] === 'message' && e['user'] === 'alice7');
      assert.equal(mine.length, 1, JSON.stringify(mine));
      alice.write('\x04'); // Ctrl-D on an empty line quits cleanly
      assert.equal(await alice.exited, 0);
      assert.ok(alice.raw().includes('\x1b[?2004l\x1b[?1004l'), 'the terminal modes are switched off');
    } finally {
      await reader.stop();
    }
  });

  test('a mention rings the bell; away from the window it notifies and counts unread', async () => {
    // No notify-send on PATH and no special terminal: the notifier is OSC 9.
    const alice = await repl.join('alice9', { env: { PATH: '/nonexistent' } });
    alice.write('\x1b[O'); // the terminal reports: focus lost
    await say(repl.daemon.port, 'bob9', 'hey alice9, look\n');
    await alice.waitForScreen(
      (s) => s.lines().some((l) => l.endsWith('@ bob9 ?: hey alice9, look')),
      'the mention',
    );
    const raw = alice.raw();
    assert.ok(raw.includes('hey alice9, look\x07'), 'the bell rings');
    assert.ok(raw.includes('\x1b]9;hey alice9, look\x07'), 'an OSC 9 notification');
    assert.ok(raw.includes('\x1b]0;(1) cmd-chat #chat\x07'), 'the unread count in the title');
    // Any message counts as unread; only mentions notify (the default /notify mentions).
    await say(repl.daemon.port, 'carol9', 'just chatting\n');
    await alice.waitForScreen(
      () => alice.raw().includes('\x1b]0;(2) cmd-chat #chat\x07'),
      'two unread in the title',
    );
    assert.ok(!alice.raw().includes('\x1b]9;just chatting'), 'no notification without a mention');
    alice.write('\x1b[I'); // focus is back
    await alice.waitForScreen(() => alice.raw().includes('\x1b]0;cmd-chat #chat\x07'), 'the title restored');
    // The focus reports were consumed, not typed.
    assert.equal(alice.screen.cursorLine(), '[chat] alice9>');
    alice.kill();
  });
});

describe('the REPL when the daemon goes away', () => {
  test('with --no-reconnect it says so, restores the terminal and exits 6 without hanging', async () => {
    const daemon = await startDaemonProcess(['--password', PASSWORD]);
    const alice = await startPtyClientAtPrompt(daemon.port, 'alice8', {
      password: PASSWORD,
      extraArgs: ['--no-reconnect'],
    });
    try {
      alice.write('half typed');
      await alice.waitForScreen((s) => s.cursorLine() === '[chat] alice8> half typed', 'the typed text');
      await daemon.stop();
      assert.equal(await alice.exited, 6);
      // One line says why: the daemon's announcement (or, had it vanished, the client's own).
      assert.match(alice.screen.text(), /-- the daemon is shutting down|cmd-chat: .*closed the connection/);
      assert.doesNotMatch(alice.screen.text(), /cmd-chat: the daemon is shutting down/);
      const raw = alice.raw();
      assert.ok(raw.includes('\x1b[?2004l'), 'bracketed paste switched off');
      assert.ok(raw.includes('\x1b[?1004l'), 'focus reporting switched off');
    } finally {
      alice.kill();
      await daemon.stop();
    }
  });
});
