/**
 * Member cards and private messages through a real daemon over TCP: cards reach late joiners
 * bound to the right user_id, a private message reaches only its recipient (and its sender, as
 * a receipt), a card-less member can be neither sender nor recipient, and nothing private is
 * kept for later joiners.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createMemberKeys,
  type MemberKeys,
  openCard,
  openPrivate,
  pairwiseKey,
  sealCard,
  sealPrivate,
} from '../../lib/crypto/identity.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { type RawClient, rawAuthenticated } from '../helpers/raw-client.js';

interface Keyed {
  raw: RawClient;
  keys: MemberKeys;
  init: Record<string, unknown>;
}

async function joinWithCard(d: TestDaemon, name: string): Promise<Keyed> {
  const raw = await rawAuthenticated(d.port, 'lobby', 'pw');
  const keys = createMemberKeys();
  raw.sendFrame({ type: 'join', username: name, card: sealCard(raw.fernet!, keys, raw.userId) });
  const init = await raw.nextFrameWhere((f) => f.type === 'init' || f.type === 'error');
  assert.equal(init.type, 'init', JSON.stringify(init));
  return { raw, keys, init };
}

function cardOf(init: Record<string, unknown>, userId: string): unknown {
  const users = init.users as Array<Record<string, unknown>>;
  return users.find((u) => u.user_id === userId)?.card;
}

describe('member cards and private messages', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ lobby: 'pw' });
  });
  after(() => d.stop());

  test('late joiners get every card, bound to its user_id', async () => {
    const alice = await joinWithCard(d, 'alice');
    const bob = await joinWithCard(d, 'bob');
    const joined = await alice.raw.nextFrameWhere((f) => f.type === 'user_joined');
    const fernet = alice.raw.fernet!;
    assert.deepEqual(openCard(fernet, joined.card, bob.raw.userId).signPublic, bob.keys.signPublic);
    const aliceCard = openCard(fernet, cardOf(bob.init, alice.raw.userId), alice.raw.userId);
    assert.deepEqual(aliceCard.dhPublic, alice.keys.dhPublic);
    // A daemon that put alice's card in bob's slot would be caught.
    assert.throws(() => openCard(fernet, cardOf(bob.init, alice.raw.userId), bob.raw.userId));
    alice.raw.destroy();
    bob.raw.destroy();
  });

  test('/msg reaches only its recipient; the sender gets a receipt; nothing is kept', async () => {
    const alice = await joinWithCard(d, 'alice2');
    const bob = await joinWithCard(d, 'bob2');
    const eve = await rawAuthenticated(d.port, 'lobby', 'pw');
    const eveInit = await eve.join('eve2'); // an original-style member: no card
    assert.equal(eveInit.type, 'init');
    const fernet = alice.raw.fernet!;
    const bobCard = openCard(fernet, cardOf(eveInit, bob.raw.userId), bob.raw.userId);
    const aliceCard = openCard(fernet, cardOf(eveInit, alice.raw.userId), alice.raw.userId);

    const secret = 'meet at the usual place';
    const key = pairwiseKey(alice.keys, alice.raw.userId, bobCard);
    const text = sealPrivate(key, alice.raw.userId, bob.raw.userId, Buffer.from(secret));
    alice.raw.sendFrame({ type: 'private', to: bob.raw.userId, text });
    alice.raw.sendMessage('fence');

    const got = await bob.raw.nextFrameWhere((f) => f.type === 'private');
    const data = got.data as Record<string, unknown>;
    assert.equal(data.from, alice.raw.userId);
    assert.equal(data.to, bob.raw.userId);
    const bobKey = pairwiseKey(bob.keys, bob.raw.userId, aliceCard);
    assert.equal(openPrivate(bobKey, alice.raw.userId, bob.raw.userId, data.text).toString(), secret);
    const receipt = await alice.raw.nextFrameWhere((f) => f.type === 'private');
    assert.equal((receipt.data as Record<string, unknown>).text, text);

    // The third member sees the fence message and nothing private before or after it.
    await eve.nextFrameWhere((f) => f.type === 'message');
    assert.ok(
      !eve.plaintexts.some((p) => p.includes('"private"') || p.includes(text)),
      'eve saw the private frame',
    );
    // A late joiner's history has the fence only.
    const late = await rawAuthenticated(d.port, 'lobby', 'pw');
    const lateInit = await late.join('late2');
    assert.ok(!JSON.stringify(lateInit).includes(text));
    assert.equal((lateInit.messages as unknown[]).length >= 1, true);

    // To a card-less member, to nobody, to oneself, from a card-less member: refused.
    alice.raw.sendFrame({ type: 'private', to: eve.userId, text });
    assert.equal((await alice.raw.nextFrameWhere((f) => f.type === 'error')).code, 'no_card');
    alice.raw.sendFrame({ type: 'private', to: 'nobody-1', text });
    assert.equal((await alice.raw.nextFrameWhere((f) => f.type === 'error')).code, 'no_such_user');
    alice.raw.sendFrame({ type: 'private', to: alice.raw.userId, text });
    assert.equal((await alice.raw.nextFrameWhere((f) => f.type === 'error')).code, 'no_such_user');
    eve.sendFrame({ type: 'private', to: bob.raw.userId, text });
    assert.equal((await eve.nextFrameWhere((f) => f.type === 'error')).code, 'no_card');
    for (const c of [alice.raw, bob.raw, eve, late]) c.destroy();
  });
});
