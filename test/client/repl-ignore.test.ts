/**
 * /ignore in a real pseudo-terminal follows the member, not the name: an ignored member who
 * renames stays hidden, a newcomer who takes the old name is shown, /unignore takes any name
 * the ignored member had, and /search and /last leave ignored members out without a trace.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Captured, spawnCli } from '../helpers/processes.js';
import { replRoom, waitFor } from '../helpers/pty.js';

const PASSWORD = 'pw';
const env = { CMD_CHAT_PASSWORD: PASSWORD };
/** A pipe member's start and handshake, on a loaded machine. */
const JOIN_MS = 30_000;

describe('/ignore follows the member', () => {
  const repl = replRoom({ password: PASSWORD, alice: true });
  const members: Captured[] = [];

  /** A pipe-mode member that stays in the room and prints everything it sees (runs /nick). */
  function member(name: string): Captured {
    const m = spawnCli(
      ['connect', '127.0.0.1', String(repl.daemon.port), name, '--follow', '--commands'],
      env,
    );
    members.push(m);
    return m;
  }
  /** Sends a line and waits for the member's own echo: the daemon has relayed it to everyone. */
  async function say(m: Captured, name: string, text: string): Promise<void> {
    m.proc.stdin.write(`${text}\n`);
    await waitFor(
      () => m.stdout().includes(`${name}: ${text}`),
      () => `${name}'s echo of "${text}": ${m.stdout()}${m.stderr()}`,
      20_000,
    );
  }
  const shown = (text: string): boolean => repl.alice.screen.lines().some((l) => l.includes(text));
  after(() => {
    for (const m of members) m.proc.kill();
  });

  test('a rename does not escape it, a newcomer with the old name is not hit', async () => {
    const { alice } = repl;
    const bob = member('bob');
    const carol = member('carol');
    await alice.waitForText('-- carol joined', JOIN_MS);
    await alice.waitForText('-- bob joined', JOIN_MS);
    alice.write('/ignore bob\r');
    await alice.waitForText('ignoring bob (under any name they take)');

    await say(bob, 'bob', 'hidden before');
    bob.proc.stdin.write('/nick bobby\n');
    await alice.waitForText('-- bob is now bobby');
    await say(bob, 'bobby', 'hidden after the rename');
    await say(carol, 'carol', 'marker one');
    await alice.waitForText('carol ?: marker one');
    assert.ok(!shown('hidden before') && !shown('hidden after the rename'), alice.screen.text());

    const newBob = member('bob');
    await alice.waitForScreen(
      (s) => s.lines().filter((l) => l.includes('-- bob joined')).length === 2,
      'new bob',
    );
    await say(newBob, 'bob', 'the new bob talks');
    await alice.waitForText('bob ?: the new bob talks');

    alice.write('/ignore\r');
    await alice.waitForText('ignoring: bobby');
    alice.write('/unignore nobody\r');
    await alice.waitForText('nobody was not ignored');
    // By the name they had when ignored, though a newcomer has it now (who is not ignored).
    alice.write('/unignore bob\r');
    await alice.waitForText('no longer ignoring bobby (who was bob)');
    await say(bob, 'bobby', 'shown again');
    await alice.waitForText('bobby ?: shown again');
  });

  test('/search and /last leave out an ignored member: no lines, no empty header, no count', async () => {
    const { alice } = repl;
    const dave = member('dave');
    const erin = member('erin');
    await alice.waitForText('-- dave joined', JOIN_MS);
    await alice.waitForText('-- erin joined', JOIN_MS);
    await say(dave, 'dave', 'zeppelin plan from dave');
    await say(erin, 'erin', 'zeppelin plan from erin');
    await alice.waitForText('erin ?: zeppelin plan from erin');
    alice.write('/ignore dave\r');
    await alice.waitForText('ignoring dave (under any name they take)');
    alice.write('/clear\r');
    await alice.waitForScreen((s) => !s.text().includes('zeppelin plan'), 'a clear screen');

    // Not a word of the safety-phrase list ("zebra" is one, and a phrase is on the screen).
    alice.write('/search zeppelin\r');
    await alice.waitForText('-- 1 match for "zeppelin"');
    await alice.waitForText('erin ?: zeppelin plan from erin');
    alice.write('/search from dave\r');
    await alice.waitForText('no match for "from dave"');
    assert.ok(!shown('zeppelin plan from dave'), alice.screen.text());
    assert.ok(!shown('matches for "from dave"') && !shown('0 match'), alice.screen.text());

    // The last 3 events that are not dave's: erin's line and two before it (joins, or a safety
    // phrase the room printed as members came). dave's line lies among them, so a /last that
    // counted it but hid it would show 2 lines, and one that showed it would fail below.
    alice.write('/clear\r');
    await alice.waitForScreen((s) => !s.text().includes('zeppelin plan'), 'a clear screen');
    alice.write('/last 3\r');
    await alice.waitForText('erin ?: zeppelin plan from erin');
    const lines = alice.screen.lines();
    const header = lines.findIndex((l) => l.includes('-- the last '));
    assert.match(lines[header] ?? '', /-- the last 3 of \d+ events --/, alice.screen.text());
    const after = lines.slice(header + 1).filter((l) => l.trim() !== '' && !l.startsWith('[chat]'));
    assert.equal(after.length, 3, alice.screen.text());
    assert.ok(
      after.some((l) => l.includes('erin ?: zeppelin plan from erin')),
      alice.screen.text(),
    );
    assert.ok(!shown('zeppelin plan from dave'), alice.screen.text());
  });
});
