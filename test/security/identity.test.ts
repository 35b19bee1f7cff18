/**
 * Signed messages and member cards against hostile members and a hostile daemon: forged
 * `from`, a signed message replayed by another member, and a daemon (the real daemon code
 * with its room's broadcast rewritten) that swaps a card or re-attributes a message are all
 * flagged for every member; a rename is not a false alarm.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatSession } from '../../lib/client/session/session.js';
import { createMemberKeys, sealCard } from '../../lib/crypto/identity.js';
import type { ServerFrame } from '../../lib/protocol/frames.js';
import { joinAs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { EventLog, isMessage } from '../helpers/events.js';
import { rawAuthenticated } from '../helpers/raw-client.js';

type Message = Extract<ReturnType<EventLog['events']['at']>, { type: 'message' }>;

async function messageIn(log: EventLog, body: string): Promise<Message> {
  const ev = await log.waitFor(isMessage(body), body);
  assert.equal(ev.type, 'message');
  return ev as Message;
}

describe('signed messages', () => {
  let d: TestDaemon;
  const sessions: ChatSession[] = [];
  before(async () => {
    d = await startDaemon({ lobby: 'pw' });
  });
  after(async () => {
    for (const s of sessions) await s.close();
    await d.stop();
  });

  async function member(name: string): Promise<{ session: ChatSession; log: EventLog }> {
    const session = await joinAs(d, 'lobby', 'pw', name);
    sessions.push(session);
    return { session, log: new EventLog(session) };
  }

  test('members sign; a rename right before a message is not flagged', async () => {
    const alice = await member('alice');
    const bob = await member('bob');
    alice.session.send('signed hello');
    const seen = await messageIn(bob.log, 'signed hello');
    assert.equal(seen.signature, 'valid');
    assert.equal(seen.forgedFrom, undefined);
    // The envelope's `from` may still carry the old name when the rename lands first.
    const rename = alice.session.nick('alice2');
    alice.session.send('right after nick');
    await rename;
    const after = await messageIn(bob.log, 'right after nick');
    assert.equal(after.signature, 'valid');
    assert.equal(after.forgedFrom, undefined);
    await alice.session.nick('alice');
  });

  test('a forged `from` and a replay by another member are flagged for everyone', async () => {
    const carol = await member('carol');
    const dave = await member('dave');
    const mallory = await rawAuthenticated(d.port, 'lobby', 'pw');
    const keys = createMemberKeys();
    mallory.sendFrame({
      type: 'join',
      username: 'mallory',
      card: sealCard(mallory.fernet!, keys, mallory.userId),
    });
    await mallory.nextFrameWhere((f) => f.type === 'init');

    mallory.sendMessage('I am carol', { from: 'carol' });
    for (const log of [carol.log, dave.log]) {
      const ev = await messageIn(log, 'I am carol');
      assert.equal(ev.forgedFrom, 'carol');
      assert.equal(ev.signature, 'unsigned');
    }

    carol.session.send('pay dave 5');
    const original = await mallory.nextFrameWhere(
      (f) => f.type === 'message' && (f.data as Record<string, unknown>).user_id === carol.session.me.user_id,
    );
    await messageIn(dave.log, 'pay dave 5');
    mallory.sendFrame({ type: 'message', text: (original.data as Record<string, unknown>).text });
    for (const log of [carol.log, dave.log]) {
      await log.waitFor(
        (e) => isMessage('pay dave 5')(e) && e.type === 'message' && e.userId === mallory.userId,
        'replay',
      );
      const replay = log.events.find(
        (e) => e.type === 'message' && e.body === 'pay dave 5' && e.userId === mallory.userId,
      ) as Message;
      assert.equal(replay.signature, 'invalid');
    }
    mallory.destroy();
  });
});

describe('a daemon that tampers with attribution', () => {
  let d: TestDaemon;
  let tamper: (frame: ServerFrame) => ServerFrame = (f) => f;
  before(async () => {
    d = await startDaemon({ lobby: 'pw' });
  });
  after(() => d.stop());

  function hijackBroadcast(): void {
    const room = d.registry.get('lobby');
    assert.ok(room);
    const original = room.broadcast.bind(room);
    room.broadcast = (frame: ServerFrame) => original(tamper(frame));
    const announce = room.announce.bind(room);
    room.announce = (frame: ServerFrame) => announce(tamper(frame));
    // Messages reach members from the room's log, each turned into its frame by frameOf.
    const logged = room as unknown as { frameOf(event: unknown): ServerFrame };
    const frameOf = logged.frameOf.bind(room);
    logged.frameOf = (event: unknown) => tamper(frameOf(event));
  }

  test('a swapped card and a re-attributed message are detected', async () => {
    const alice = await joinAs(d, 'lobby', 'pw', 'alice');
    const mallory = await joinAs(d, 'lobby', 'pw', 'mallory');
    const alog = new EventLog(alice);
    hijackBroadcast();
    const malloryCard = (d.registry.get('lobby')?.memberList() ?? []).find(
      (m) => m.username === 'mallory',
    )?.card;
    assert.ok(malloryCard);
    // The daemon hands alice mallory's card as bob's.
    tamper = (f) => (f.type === 'user_joined' && f.username === 'bob' ? { ...f, card: malloryCard } : f);
    const bob = await joinAs(d, 'lobby', 'pw', 'bob');
    await alog.waitFor((e) => e.type === 'join' && e.username === 'bob', 'bob joins');
    assert.equal(alice.keyring?.fingerprintOf(bob.me.user_id), undefined, 'the swapped card is refused');
    bob.send('from bob');
    assert.equal((await messageIn(alog, 'from bob')).signature, 'no_card');

    // The daemon re-attributes mallory's message to bob (bob's card is valid for bob).
    const blog = new EventLog(bob);
    tamper = (f) =>
      f.type === 'message' && f.data.user_id === mallory.me.user_id
        ? { ...f, data: { ...f.data, user_id: alice.me.user_id, username: 'alice' } }
        : f;
    mallory.send('alice owes me');
    const seen = await messageIn(blog, 'alice owes me');
    assert.equal(seen.userId, alice.me.user_id);
    assert.equal(seen.signature, 'invalid');
    for (const s of [alice, mallory, bob]) await s.close();
  });
});

describe('verified members', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ lobby: 'pw' });
  });
  after(() => d.stop());

  test('/verify marks a member; the same name back with a new key is announced', async () => {
    const alice = await joinAs(d, 'lobby', 'pw', 'alice');
    const alog = new EventLog(alice);
    const bob = await joinAs(d, 'lobby', 'pw', 'bob');
    await alog.waitFor((e) => e.type === 'join' && e.username === 'bob', 'bob joins');
    const code = bob.keyring?.fingerprint;
    assert.ok(code);
    assert.equal(alice.whois('bob')?.fingerprint, code);
    assert.equal(alice.verifyMember('bob', 'AAAA-AAAA-AAAA-AAAA-AAAA'), 'mismatch');
    assert.equal(alice.verifyMember('bob', code.toLowerCase().replaceAll('-', ' ')), 'verified');
    assert.equal(alice.whois('BOB')?.verified, true);
    bob.send('verified hello');
    assert.equal((await messageIn(alog, 'verified hello')).verified, true);

    await bob.close();
    await alog.waitFor((e) => e.type === 'leave' && e.username === 'bob', 'bob leaves');
    const bob2 = await joinAs(d, 'lobby', 'pw', 'bob');
    const warning = await alog.waitFor(
      (e) => e.type === 'error' && e.code === 'key_changed',
      'the announcement',
    );
    assert.ok(warning.type === 'error' && warning.message.includes(code), warning.type);
    bob2.send('new key');
    const again = await messageIn(alog, 'new key');
    assert.equal(again.signature, 'valid');
    assert.equal(again.verified, undefined);
    await alice.close();
    await bob2.close();
  });
});

describe('private messages between sessions', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ lobby: 'pw' });
  });
  after(() => d.stop());

  test('/msg reaches only its recipient, the sender sees a receipt, /reply answers', async () => {
    const alice = await joinAs(d, 'lobby', 'pw', 'alice');
    const bob = await joinAs(d, 'lobby', 'pw', 'bob');
    const carol = await joinAs(d, 'lobby', 'pw', 'carol');
    const eve = await rawAuthenticated(d.port, 'lobby', 'pw');
    assert.equal((await eve.join('eve')).type, 'init'); // no keys, like an original client
    const [alog, blog, clog] = [new EventLog(alice), new EventLog(bob), new EventLog(carol)];

    alice.sendPrivate('bob', 'the secret plan');
    const got = await blog.waitFor((e) => e.type === 'private', 'bob gets it');
    assert.ok(got.type === 'private' && got.body === 'the secret plan' && !got.mine && got.from === 'alice');
    const receipt = await alog.waitFor((e) => e.type === 'private', 'the receipt');
    assert.ok(receipt.type === 'private' && receipt.mine && receipt.to === 'bob' && !receipt.undecryptable);
    bob.sendPrivate(bob.replyTarget ?? '', 'ack');
    const reply = await alog.waitFor((e) => e.type === 'private' && !e.mine, 'the reply');
    assert.ok(reply.type === 'private' && reply.body === 'ack');

    alice.send('fence');
    await clog.waitFor(isMessage('fence'));
    await eve.nextFrameWhere((f) => f.type === 'message');
    assert.ok(!clog.events.some((e) => e.type === 'private'), 'carol saw nothing private');
    assert.ok(!eve.plaintexts.some((p) => p.includes('"private"') || p.includes('secret plan')));

    assert.throws(() => alice.sendPrivate('eve', 'hi'), /no key/);
    assert.throws(() => alice.sendPrivate('nobody', 'hi'), /no other member/);
    for (const s of [alice, bob, carol]) await s.close();
    eve.destroy();
  });
});
