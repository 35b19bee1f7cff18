/**
 * /ignore in a real pseudo-terminal follows the member, not the name: an ignored member who
 * renames stays hidden, a newcomer who takes the old name is shown, /unignore takes the
 * ignored member's current name.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Captured, spawnCli } from '../helpers/processes.js';
import { replRoom, waitFor } from '../helpers/pty.js';

const PASSWORD = 'pw';
const env = { CMD_CHAT_PASSWORD: PASSWORD };

describe('/ignore follows the member', () => {
  const repl = replRoom({ password: PASSWORD, alice: true });
  const members: Captured[] = [];

  /** A pipe-mode member that stays in the room and prints everything it sees. */
  function member(name: string): Captured {
    const m = spawnCli(['connect', '127.0.0.1', String(repl.daemon.port), name, '--follow'], env);
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
    await alice.waitForText('-- carol joined');
    await alice.waitForText('-- bob joined');
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
    alice.write('/unignore bob\r');
    await alice.waitForText('bob was not ignored');
    alice.write('/unignore bobby\r');
    await alice.waitForText('no longer ignoring bobby');
    await say(bob, 'bobby', 'shown again');
    await alice.waitForText('bobby ?: shown again');
  });
});
