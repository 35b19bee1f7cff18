/**
 * `connect --identity` and `--trust` through the real CLI: the same passphrase gives the same
 * fingerprint in two sessions and two rooms, another passphrase another one, no --identity a
 * fresh one each time; a weak passphrase is refused (exit 2) with the rule; a member pinned
 * with --trust (or CMD_CHAT_TRUST) is verified from its first line in --json.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatSession } from '../../lib/client/session/session.js';
import { TrustPins } from '../../lib/client/session/trust-pins.js';
import { deriveIdentitySeed } from '../../lib/crypto/identity-key.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { joinAs, openSession, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { runClient, startJsonReader } from '../helpers/processes.js';

const PASSPHRASE = 'orbit velvet frost maple zebra tunnel pilot horse';

describe('connect --identity', () => {
  let d: TestDaemon;
  const watchers = new Map<string, ChatSession>();
  /** Fingerprints of the members that joined, per room, in order. */
  const seen = new Map<string, string[]>();
  before(async () => {
    d = await startDaemon({ lobby: 'pw', ops: 'pw' });
    for (const room of ['lobby', 'ops']) {
      const w = await joinAs(d, room, 'pw', 'watcher');
      seen.set(room, []);
      w.on('event', (e) => {
        if (e.type === 'join') seen.get(room)!.push(w.memberFingerprint(e.userId) ?? 'none');
      });
      watchers.set(room, w);
    }
  });
  after(async () => {
    for (const w of watchers.values()) await w.close();
    await d.stop();
  });

  async function fingerprintOfRun(room: string, passphrase: string | undefined): Promise<string> {
    const before = seen.get(room)!.length;
    const env: NodeJS.ProcessEnv = { CMD_CHAT_PASSWORD: 'pw' };
    if (passphrase !== undefined) env.CMD_CHAT_IDENTITY_PASSPHRASE = passphrase;
    const args = ['127.0.0.1', String(d.port), 'alice', '--room', room];
    const r = await runClient(passphrase === undefined ? args : [...args, '--identity'], {
      input: 'hi\n',
      env,
      timeoutMs: 90_000, // a CLI start and a 256 MiB scrypt each, on a loaded machine
    });
    assert.equal(r.code, 0, r.stderr);
    const list = seen.get(room)!;
    assert.equal(list.length, before + 1);
    return list[list.length - 1]!;
  }

  test('same passphrase: same fingerprint in two sessions and two rooms; else another', async () => {
    const first = await fingerprintOfRun('lobby', PASSPHRASE);
    assert.match(first, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){4}$/);
    assert.equal(await fingerprintOfRun('lobby', PASSPHRASE), first, 'a second session');
    assert.equal(await fingerprintOfRun('ops', PASSPHRASE), first, 'another room');
    assert.notEqual(await fingerprintOfRun('lobby', `${PASSPHRASE} again`), first, 'another passphrase');
    const fresh = await fingerprintOfRun('lobby', undefined);
    assert.notEqual(await fingerprintOfRun('lobby', undefined), fresh, 'without --identity: per session');
    const derived = await deriveIdentitySeed(PASSPHRASE, 'alice');
    const bob = await joinAs(d, 'lobby', 'pw', 'bob', { identitySeed: derived });
    assert.equal(bob.keyring?.fingerprint, first, 'the library derives the same key');
    await bob.close();
  });

  test('a weak passphrase is refused with the rule; --identity-fd needs --identity', async () => {
    const r = await runClient(['127.0.0.1', String(d.port), 'alice', '--identity'], {
      input: 'hi\n',
      env: { CMD_CHAT_PASSWORD: 'pw', CMD_CHAT_IDENTITY_PASSPHRASE: 'password123!' },
    });
    assert.equal(r.code, ExitCode.usage);
    assert.match(r.stderr, /too weak: it counts \d+ bits, 66 are needed/);
    assert.ok(!r.stderr.includes('password123!'), 'the passphrase is not echoed');
    const fd = await runClient(['127.0.0.1', String(d.port), 'alice', '--identity-fd', '0'], {
      input: 'hi\n',
      env: { CMD_CHAT_PASSWORD: 'pw' },
    });
    assert.equal(fd.code, ExitCode.usage);
    assert.match(fd.stderr, /--identity-fd needs --identity/);
  });

  test('a pinned member is verified from its first line; a pinned look-alike is flagged; history of a pinned member who left is unverified', async () => {
    const seed = await deriveIdentitySeed(PASSPHRASE, 'bob');
    const bob = await joinAs(d, 'lobby', 'pw', 'bob', { identitySeed: seed });
    const fingerprint = bob.keyring!.fingerprint;
    const reader = await startJsonReader(['127.0.0.1', String(d.port), 'reader', '--room', 'lobby'], {
      CMD_CHAT_PASSWORD: 'pw',
      CMD_CHAT_TRUST: `bob=${fingerprint.toLowerCase()} carol=AAAA-AAAA-AAAA-AAAA-AAAA`,
    });
    try {
      bob.send('first line');
      await reader.waitForMessage('bob');
      const line = reader.events().find((e) => e.type === 'message' && e.user === 'bob');
      assert.equal(line?.trust, 'verified');
      assert.equal(line?.verified, true);
      const carol = await joinAs(d, 'lobby', 'pw', 'caroI'); // capital I: a look-alike of carol
      await reader.waitFor(
        (evs) => evs.some((e) => e.type === 'error' && e.code === 'key_changed'),
        'key_changed for the look-alike',
      );
      carol.send('trust me');
      await reader.waitForMessage('caroI');
      assert.equal(reader.events().find((e) => e.user === 'caroI' && e.type === 'message')?.trust, 'changed');
      await carol.close();
      // Once bob has left, his history lines cannot be checked: unverified, not a false alarm.
      await bob.close();
      const late = await openSession(d, 'lobby', 'pw', {
        username: 'late',
        trust: new TrustPins([`bob=${fingerprint}`]),
      });
      const history = await late.join('late');
      const old = history.find((e) => e.body === 'first line');
      assert.equal(old?.trust, 'unverified');
      await late.close();
    } finally {
      await reader.stop();
      await bob.close();
    }
  });
});
