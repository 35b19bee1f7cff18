/**
 * REPL commands in a real pseudo-terminal: /me erases the typed line, /nick to the same name,
 * /ignore of oneself or an absent name, /wipe asking first, /quit with a parting message,
 * /search (and /grep) and /last over what this client has seen.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runClient, startDaemonProcess } from '../helpers/processes.js';
import { replRoom, startPtyClient } from '../helpers/pty.js';

const PASSWORD = 'pw';
const env = { CMD_CHAT_PASSWORD: PASSWORD };

describe('REPL commands', () => {
  const repl = replRoom({ password: PASSWORD, reader: true, alice: true });

  test('/me erases the typed line like any message', async () => {
    const { alice } = repl;
    alice.write('/me waves\r');
    await alice.waitForScreen((s) => s.lines().some((l) => l.endsWith('* alice waves')), 'the action');
    assert.ok(!alice.screen.lines().some((l) => l.includes('alice> /me waves')), alice.screen.text());
  });

  test('/nick to the current name, /ignore of oneself or someone absent say so', async () => {
    const { alice } = repl;
    alice.write('/nick alice\r');
    await alice.waitForText('you are already alice');
    alice.write('/ignore alice\r');
    await alice.waitForText('you cannot ignore yourself');
    alice.write('/ignore nobody\r');
    await alice.waitForText('ignoring nobody (not in the room now; applies if they join)');
    alice.write('/ignore nobody\r');
    await alice.waitForText('already ignoring nobody');
  });

  test('/wipe asks first; a second /wipe confirms', async () => {
    const { alice, reader } = repl;
    const before = reader.events().filter((e) => e.type === 'cleared').length;
    alice.write('/wipe\r');
    await alice.waitForText("this erases the room's history for everyone");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(reader.events().filter((e) => e.type === 'cleared').length, before, 'nothing wiped yet');
    alice.write('/wipe\r');
    await reader.waitFor((evs) => evs.filter((e) => e.type === 'cleared').length === before + 1, 'the wipe');
    alice.write('/wipe!\r');
    await reader.waitFor((evs) => evs.filter((e) => e.type === 'cleared').length === before + 2, '/wipe!');
  });

  test('the /wipe confirmation expires on the next line, and when a message arrives', async () => {
    const { alice, reader, daemon } = repl;
    const wipes = (): number => reader.events().filter((e) => e.type === 'cleared').length;
    const asked = (): number => alice.raw().split("this erases the room's history").length - 1;
    const before = wipes();
    const ask = async (): Promise<void> => {
      const n = asked();
      alice.write('/wipe\r');
      await alice.waitForScreen(() => asked() === n + 1, 'the /wipe question');
    };
    await ask();
    // Any line in between: the next /wipe asks again.
    alice.write('first a line\r');
    await reader.waitFor((evs) => evs.some((e) => e.text === 'first a line'), 'the line');
    await ask();
    // A message from someone else arrives in between: asks again too.
    const bob = await runClient(['127.0.0.1', String(daemon.port), 'bob'], {
      input: 'wait, I need that\n',
      env,
    });
    assert.equal(bob.code, 0, bob.stderr);
    await alice.waitForText('bob ?: wait, I need that');
    await ask();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(wipes(), before, 'nothing wiped');
    // Right after the question, it confirms.
    alice.write('/wipe\r');
    await reader.waitFor((evs) => evs.filter((e) => e.type === 'cleared').length === before + 1, 'the wipe');
  });

  test('several lines in one read (a paste without bracketed paste) are one message', async () => {
    const { alice, reader } = repl;
    alice.write('pasted one\rpasted two\r');
    await alice.waitForScreen(
      (s) => s.cursorLine() === '[chat] alice> pasted one\u23cepasted two',
      'the block in the input line, sent by Enter',
    );
    alice.write('\r');
    await reader.waitFor((evs) => evs.some((e) => e.text === 'pasted one\npasted two'), 'one message');
    assert.ok(!reader.events().some((e) => e.text === 'pasted one'), 'not one message per line');
  });

  test('/search and /grep find what was seen, /last shows the last events', async () => {
    const { alice, daemon } = repl;
    const r = await runClient(['127.0.0.1', String(daemon.port), 'bob'], {
      input: 'the deploy is green\nluncheon at noon\nDEPLOY again tomorrow\n',
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    await alice.waitForScreen(
      (s) => s.lines().some((l) => l.endsWith('bob ?: DEPLOY again tomorrow')),
      'bob',
    );
    await alice.waitForScreen((s) => s.lines().some((l) => l.endsWith('-- bob left')), 'bob leaving');
    alice.write('/clear\r');
    await alice.waitForScreen((s) => s.lines()[0] === '[chat] alice>', 'a cleared screen');
    alice.write('/search deploy\r');
    await alice.waitForText('-- 2 matches for "deploy"');
    let lines = alice.screen.lines();
    assert.ok(
      lines.some((l) => l.endsWith('bob ?: the deploy is green')),
      alice.screen.text(),
    );
    assert.ok(
      lines.some((l) => l.endsWith('bob ?: DEPLOY again tomorrow')),
      alice.screen.text(),
    );
    assert.ok(!lines.some((l) => l.endsWith('bob ?: luncheon at noon')), alice.screen.text());

    alice.write('/clear\r');
    await alice.waitForScreen((s) => s.lines()[0] === '[chat] alice>', 'a cleared screen');
    // Not a word of the safety-phrase list (one phrase shown here had "lunch" in it).
    alice.write('/grep LUNCHEON\r');
    await alice.waitForText('-- 1 match for "LUNCHEON"');
    assert.ok(alice.screen.lines().some((l) => l.endsWith('bob ?: luncheon at noon')));

    alice.write('/clear\r');
    await alice.waitForScreen((s) => s.lines()[0] === '[chat] alice>', 'a cleared screen');
    alice.write('/last 2\r');
    await alice.waitForText('-- the last 2 of');
    lines = alice.screen.lines();
    assert.ok(
      lines.some((l) => l.endsWith('-- bob left')),
      alice.screen.text(),
    );
    assert.ok(
      lines.some((l) => l.endsWith('bob ?: DEPLOY again tomorrow')),
      alice.screen.text(),
    );
    assert.ok(!lines.some((l) => l.endsWith('bob ?: luncheon at noon')), alice.screen.text());
  });

  test('/quit MESSAGE sends the message, then leaves', async () => {
    const { alice, reader } = repl;
    alice.write('/quit see you tomorrow\r');
    assert.equal(await alice.exited, 0);
    assert.equal(await reader.waitForMessage('alice'), 'waves');
    await reader.waitFor(
      (evs) => evs.some((e) => e.user === 'alice' && e.text === 'see you tomorrow'),
      'parting',
    );
  });
});

test('a long message wraps at 50 columns with a hanging indent', async () => {
  const daemon = await startDaemonProcess(['--password', PASSWORD]);
  const narrow = startPtyClient(daemon.port, 'nina', { password: PASSWORD, cols: 50 });
  try {
    await narrow.waitForScreen((s) => s.cursorLine() === '[chat] nina>', 'the prompt', 20_000);
    const words = 'every word of this message stays whole when the line wraps on a narrow screen';
    const r = await runClient(['127.0.0.1', String(daemon.port), 'bob'], { input: `${words}\n`, env });
    assert.equal(r.code, 0, r.stderr);
    await narrow.waitForText('-- bob left');
    const lines = narrow.screen.lines();
    const first = lines.findIndex((l) => / {3}bob \?: every/.test(l));
    assert.ok(first >= 0, narrow.screen.text());
    const indent = lines[first]!.indexOf('every');
    const rows = [lines[first]!];
    for (let i = first + 1; i < lines.length && lines[i]!.startsWith(' '.repeat(indent)); i++)
      rows.push(lines[i]!);
    assert.ok(rows.length >= 2, narrow.screen.text());
    assert.equal(rows.map((l, i) => (i === 0 ? l.slice(indent) : l.trim())).join(' '), words);
  } finally {
    narrow.kill();
    await daemon.stop();
  }
});
