/**
 * The card-minting attack of a room-key holder (test/helpers/card-minter.ts), against real
 * sessions on the real daemon: it reads a private message between two unverified members, but
 * the members' safety phrases differ, a `--trust` pin refuses the minted key (flagged, /msg
 * refused), and the first /msg to an unverified member warns in plain words.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { IgnoreList } from '../../lib/client/ignore-list.js';
import type { ChatSession } from '../../lib/client/session/session.js';
import { TrustPins } from '../../lib/client/session/trust-pins.js';
import {
  type CommandContext,
  runCommand,
  UNVERIFIED_PRIVATE_WARNING,
} from '../../lib/client/slash-commands.js';
import { deriveIdentitySeed } from '../../lib/crypto/identity-key.js';
import { CardMinter } from '../helpers/card-minter.js';
import { joinAs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { EventLog } from '../helpers/events.js';
import { rawAuthenticated } from '../helpers/raw-client.js';

/** A command context over a session that records what the command said. */
function contextFor(session: ChatSession): { ctx: CommandContext; said: string[] } {
  const said: string[] = [];
  const ctx: CommandContext = {
    session,
    view: { ignored: new IgnoreList(session), bell: 'off', notify: 'off' },
    daemon: 'test',
    interactive: true,
    info: (t) => said.push(t),
    error: (t) => said.push(`! ${t}`),
    clearScreen: () => {},
    quit: () => {},
  };
  return { ctx, said };
}

async function bothSee(a: ChatSession, b: ChatSession, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (a.memberList().length < count || b.memberList().length < count) {
    if (Date.now() > deadline) throw new Error('members did not arrive');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a room-key holder that mints cards', () => {
  let d: TestDaemon;
  let minter: CardMinter;
  const sessions: ChatSession[] = [];
  let bobSeed: Buffer;
  before(async () => {
    d = await startDaemon({ lobby: 'pw' });
    const keyHolder = await rawAuthenticated(d.port, 'lobby', 'pw');
    minter = new CardMinter(d, 'lobby', keyHolder.fernet!);
    bobSeed = await deriveIdentitySeed('bob-passphrase-for-tests', 'bob');
  });
  after(async () => {
    for (const s of sessions) await s.close();
    await d.stop();
  });

  test('it reads an unverified /msg, but the two safety phrases differ', async () => {
    minter.enabled = false;
    const honestA = await joinAs(d, 'lobby', 'pw', 'ann');
    const annLog = new EventLog(honestA);
    const honestB = await joinAs(d, 'lobby', 'pw', 'ben');
    sessions.push(honestA, honestB);
    await bothSee(honestA, honestB, 2);
    const phrase = await honestA.safetyPhrase();
    assert.equal(await honestB.safetyPhrase(), phrase, 'honest daemon: one phrase');
    // Announced once ben is there (alone, ann had nobody to compare with).
    const announced = await annLog.waitFor((e) => e.type === 'safety_phrase', 'the announcement');
    assert.deepEqual(announced.type === 'safety_phrase' && [announced.phrase, announced.members], [
      phrase,
      2,
    ]);
    await honestA.close();
    await honestB.close();

    minter.enabled = true;
    const alice = await joinAs(d, 'lobby', 'pw', 'alice');
    const bob = await joinAs(d, 'lobby', 'pw', 'bob', { identitySeed: bobSeed });
    sessions.push(alice, bob);
    await bothSee(alice, bob, 2);
    const blog = new EventLog(bob);
    // The attack works: alice sees a valid card for bob, and the daemon reads her /msg.
    assert.notEqual(alice.whois('bob')?.fingerprint, bob.keyring?.fingerprint);
    assert.equal(alice.whois('bob')?.trust, 'unverified');
    alice.sendPrivate('bob', 'the vault PIN is 4711');
    const got = await blog.waitFor((e) => e.type === 'private', 'bob gets it');
    assert.ok(got.type === 'private' && got.body === 'the vault PIN is 4711' && !got.undecryptable);
    assert.deepEqual(minter.read, ['the vault PIN is 4711']);
    // The phrases show it: each member's view has another member's key.
    const [pa, pb] = [await alice.safetyPhrase(), await bob.safetyPhrase()];
    assert.ok(pa && pb);
    assert.match(pa, /^[a-z]+( [a-z]+){8}$/);
    assert.notEqual(pa, pb);
    await alice.close();
  });

  test('a --trust pin refuses the minted key: flagged, and /msg is refused', async () => {
    const pins = new TrustPins([`bob=${bobFingerprint()}`]);
    const carol = await joinAs(d, 'lobby', 'pw', 'carol', { trust: pins });
    sessions.push(carol);
    const clog = new EventLog(carol);
    const warning = await clog.waitFor((e) => e.type === 'error' && e.code === 'key_changed', 'key_changed');
    assert.ok(warning.type === 'error' && warning.message.includes(bobFingerprint()));
    assert.equal(carol.whois('bob')?.trust, 'changed');
    assert.throws(() => carol.sendPrivate('bob', 'secret'), /another key than the one you trust/);
    const { ctx, said } = contextFor(carol);
    await runCommand(ctx, 'who', '');
    assert.match(said.join('\n'), /bob ✗ KEY CHANGED/);
    assert.equal(minter.read.length, 1, 'nothing more was read');
  });

  test('the first /msg to an unverified member warns once, before it is sent', async () => {
    const dave = await joinAs(d, 'lobby', 'pw', 'dave');
    sessions.push(dave);
    const { ctx, said } = contextFor(dave);
    await runCommand(ctx, 'msg', 'bob first');
    const warnings = (): string[] => said.filter((l) => l.includes(UNVERIFIED_PRIVATE_WARNING));
    assert.equal(warnings().length, 1);
    assert.match(warnings()[0]!, /^warning: bob is not verified\. Anyone who holds the room key/);
    await runCommand(ctx, 'msg', 'bob second');
    assert.equal(warnings().length, 1, 'said once');
  });

  function bobFingerprint(): string {
    const bob = sessions.find((s) => s.me.username === 'bob' && !s.isClosed);
    assert.ok(bob?.keyring);
    return bob.keyring.fingerprint;
  }
});
