/**
 * Trust marks in a real pseudo-terminal, with NO_COLOR and TERM=dumb (plain glyphs, no
 * colour to carry them): a member pinned with --trust shows ✓ from its first line, another
 * one ?, an impostor under the pinned name ✗ KEY CHANGED on its lines, in /who and in the
 * prompt while it is present; /msg to it is refused and the first /msg to an unverified member warns; /who shows the safety phrase.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatSession } from '../../lib/client/session/session.js';
import { deriveIdentitySeed } from '../../lib/crypto/identity-key.js';
import { joinAs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { type PtyClient, startPtyClientAtPrompt } from '../helpers/pty.js';

describe('trust marks on a plain terminal', () => {
  let d: TestDaemon;
  let alice: PtyClient;
  let bob: ChatSession;
  let carol: ChatSession;
  before(async () => {
    d = await startDaemon({ chat: 'pw' });
    bob = await joinAs(d, 'chat', 'pw', 'bob', {
      identitySeed: await deriveIdentitySeed('orbit velvet frost maple zebra tunnel pilot horse', 'bob'),
    });
    carol = await joinAs(d, 'chat', 'pw', 'carol');
    alice = await startPtyClientAtPrompt(d.port, 'alice', {
      env: { TERM: 'dumb', NO_COLOR: '1' },
      extraArgs: ['--trust', `bob=${bob.keyring!.fingerprint}`],
    });
  });
  after(async () => {
    alice.kill();
    await carol.close();
    await d.stop();
  });

  test('verified, unverified and changed, in lines, /who and /msg', async () => {
    bob.send('hello from bob');
    await alice.waitForText('bob ✓: hello from bob');
    carol.send('hi from carol');
    await alice.waitForText('carol ?: hi from carol');
    alice.write('/who\r');
    await alice.waitForText('3 in chat: alice (you), bob ✓, carol ?');
    await alice.waitForScreen(
      (s) => /safety phrase: [a-z]+( [a-z]+){8} /.test(s.text()),
      'the safety phrase',
    );

    alice.write('/msg carol psst\r');
    await alice.waitForText('carol is not verified. Anyone who holds the room key');

    await bob.close();
    await alice.waitForText('-- bob left');
    const impostor = await joinAs(d, 'chat', 'pw', 'bob');
    try {
      await alice.waitForText('bob is NOT the member you trust');
      // The alarm stays on screen in the prompt while the impostor is present.
      // A plain terminal prints the prompt again after each line (it is never redrawn in place).
      alice.write('\r');
      await alice.waitForScreen(
        (s) => s.lines().some((l) => l.startsWith('[chat] alice ✗ KEY CHANGED: bob>')),
        'the prompt',
      );
      impostor.send('it is me, bob');
      await alice.waitForText('bob ✗ KEY CHANGED: it is me, bob');
      alice.write('/msg bob the PIN\r');
      await alice.waitForText('private message NOT sent');
      alice.write('/who\r');
      await alice.waitForText('bob ✗ KEY CHANGED, carol ?');
      // Written as plain text: no escape sequence inside the marks.
      for (const line of [
        'bob ✓: hello from bob',
        'carol ?: hi from carol',
        'bob ✗ KEY CHANGED: it is me, bob',
      ])
        assert.ok(alice.raw().includes(line), line);
    } finally {
      await impostor.close();
    }
    await alice.waitForScreen((s) => (s.text().match(/-- bob left/g) ?? []).length >= 2, 'the impostor gone');
    alice.write('\r');
    await alice.waitForScreen(
      (s) =>
        s
          .lines()
          .filter((l) => l.trim() !== '')
          .at(-1) === '[chat] alice>',
      'the prompt without the alarm',
    );
  });
});
