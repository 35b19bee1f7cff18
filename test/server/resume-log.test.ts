/**
 * A member's place in the room's log, over raw connections to one daemon: a member that
 * comes back with its cursor is handed every event it missed, numbered and in order; when the
 * resume window no longer reaches back it is told exactly how many it lost, and after a
 * `/wipe` how many were wiped; a resend is recognised by the log; and a held name survives
 * any number of throwaway connections from another source (its owner takes it back).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DaemonLimits } from '../../lib/protocol/limits.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { type RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const PW = 'resume-log-password';
type Frame = Record<string, unknown>;

/** Reads frames until `done` holds for one; returns all read, that one included. */
async function framesUntil(c: RawClient, done: (f: Frame) => boolean): Promise<Frame[]> {
  const out: Frame[] = [];
  for (;;) {
    for (const f of await c.nextFrames()) {
      out.push(f);
      if (done(f)) return out;
    }
  }
}

async function member(
  d: TestDaemon,
  name: string,
  localAddress?: string,
): Promise<{ c: RawClient; init: Frame }> {
  const c = await rawAuthenticated(d.port, 'chat', PW, localAddress);
  const init = await c.join(name);
  assert.equal(init.type, 'init', JSON.stringify(init));
  return { c, init };
}

/** alice (lost) comes back with her secret and cursor; returns her new connection and its frames up to `until`. */
async function resume(
  d: TestDaemon,
  init: Frame,
  seq: number,
  until: (f: Frame) => boolean,
): Promise<{ c: RawClient; frames: Frame[] }> {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  c.sendFrame({ type: 'join', username: 'alice', resume: init.resume, after: { epoch: init.epoch, seq } });
  const frames = await framesUntil(c, until);
  return { c, frames };
}

/**
 * A daemon with `limits` and alice and bob in room chat; `scene` gets them and an `open` list
 * of connections to close at the end, with the daemon.
 */
async function withAliceAndBob(
  limits: Partial<DaemonLimits>,
  scene: (s: {
    d: TestDaemon;
    alice: { c: RawClient; init: Frame };
    bob: { c: RawClient; init: Frame };
    open: RawClient[];
  }) => Promise<void>,
): Promise<void> {
  const d = await startDaemon({ chat: PW }, { limits });
  const open: RawClient[] = [];
  try {
    const alice = await member(d, 'alice');
    const bob = await member(d, 'bob');
    open.push(alice.c, bob.c);
    await scene({ d, alice, bob, open });
  } finally {
    for (const c of open) c.destroy();
    await d.stop();
  }
}

const texts = (frames: Frame[]): unknown[] =>
  frames.filter((f) => f.type === 'message').map((f) => (f.data as { id: string }).id && f.seq);

test('a member back with its cursor gets every event it missed, numbered, in order, then live ones', async () => {
  await withAliceAndBob({ resumeGraceMs: 10_000 }, async ({ d, alice, bob, open }) => {
    assert.equal(typeof alice.init.epoch, 'string');
    assert.equal(alice.init.seq, 0);
    bob.c.sendMessage('one');
    const first = await alice.c.nextFrameWhere((f) => f.type === 'message');
    assert.equal(first.seq, 1);
    alice.c.destroy();
    await waitFor(() => d.daemon.stats().members === 1, 'alice gone');
    for (let i = 0; i < 20; i++) bob.c.sendMessage(`m${i}`);
    await framesUntil(bob.c, (f) => f.type === 'message' && f.seq === 21);
    const back = await resume(d, alice.init, 1, (f) => f.type === 'message' && f.seq === 21);
    open.push(back.c);
    const init = back.frames.find((f) => f.type === 'init');
    assert.deepEqual(init?.messages, [], 'the history is not handed again');
    assert.equal(init?.seq, 1);
    assert.deepEqual(
      texts(back.frames),
      Array.from({ length: 20 }, (_, i) => i + 2),
    );
    assert.equal(back.frames.filter((f) => f.type === 'gap').length, 0);
    bob.c.sendMessage('live');
    assert.equal((await back.c.nextFrameWhere((f) => f.type === 'message')).seq, 22);
  });
});

test('beyond the resume window the member is told exactly how many it lost; after a wipe, how many were wiped', async () => {
  await withAliceAndBob({ resumeGraceMs: 10_000, resumeWindow: 5 }, async ({ d, alice, bob, open }) => {
    alice.c.destroy();
    await waitFor(() => d.daemon.stats().members === 1, 'alice gone');
    for (let i = 0; i < 12; i++) bob.c.sendMessage(`m${i}`);
    await framesUntil(bob.c, (f) => f.type === 'message' && f.seq === 12);
    const back = await resume(d, alice.init, 0, (f) => f.type === 'message' && f.seq === 12);
    open.push(back.c);
    const gap = back.frames.find((f) => f.type === 'gap');
    assert.deepEqual(gap, { type: 'gap', lost: 7, wiped: 0, seq: 7 });
    assert.deepEqual(texts(back.frames), [8, 9, 10, 11, 12]);
    const init2 = back.frames.find((f) => f.type === 'init') as Frame;

    // Away again: three messages, a wipe, one more.
    back.c.destroy();
    await waitFor(() => d.daemon.stats().members === 1, 'alice gone again');
    for (let i = 0; i < 3; i++) bob.c.sendMessage(`w${i}`);
    bob.c.sendFrame({ type: 'clear' });
    bob.c.sendMessage('after');
    await framesUntil(bob.c, (f) => f.type === 'message' && f.seq === 17);
    const again = await resume(
      d,
      { ...init2, epoch: alice.init.epoch },
      12,
      (f) => f.type === 'message' && f.seq === 17,
    );
    open.push(again.c);
    const kinds = again.frames.filter(
      (f) => f.type !== 'init' && f.type !== 'user_joined' && f.type !== 'user_left',
    );
    assert.deepEqual(
      kinds.map((f) => [f.type, f.seq]),
      [
        ['gap', 15],
        ['cleared', 16],
        ['message', 17],
      ],
    );
    assert.deepEqual({ lost: kinds[0]?.lost, wiped: kinds[0]?.wiped }, { lost: 0, wiped: 3 });
  });
});

test('a resend after a resume is recognised by the log: received, not relayed twice', async () => {
  await withAliceAndBob({ resumeGraceMs: 10_000 }, async ({ d, alice, bob, open }) => {
    const token = 'gAAAAABresendtestresendtestresendtest'; // opaque to the daemon
    alice.c.sendFrame({ type: 'message', text: token, mid: 'm-1' });
    await bob.c.nextFrameWhere((f) => f.type === 'message');
    alice.c.destroy();
    await waitFor(() => d.daemon.stats().members === 1, 'alice gone');
    const back = await resume(d, alice.init, 1, (f) => f.type === 'init');
    open.push(back.c);
    back.c.sendFrame({ type: 'message', text: token, mid: 'm-1' });
    assert.deepEqual(await back.c.nextFrameWhere((f) => f.type === 'received'), {
      type: 'received',
      mid: 'm-1',
    });
    bob.c.sendMessage('next');
    const next = await bob.c.nextFrameWhere((f) => f.type === 'message');
    assert.equal(next.seq, 2, 'the resend was not appended');
  });
});

test("a member reusing another member's mid is not taken for a resend: both messages are logged", async () => {
  await withAliceAndBob({}, async ({ alice, bob }) => {
    // bob sees alice's mid on nothing, but a lying client may pick any: ids are per member.
    alice.c.sendFrame({ type: 'message', text: 'gAAAAABfromalicefromalicefromalice', mid: 'm-1' });
    const first = await bob.c.nextFrameWhere((f) => f.type === 'message');
    bob.c.sendFrame({ type: 'message', text: 'gAAAAABfrombobfrombobfrombobfrombob', mid: 'm-1' });
    const second = await alice.c.nextFrameWhere(
      (f) => f.type === 'message' && (f.data as Frame).text === 'gAAAAABfrombobfrombobfrombobfrombob',
    );
    assert.deepEqual([first.seq, second.seq], [1, 2], "bob's message was appended, not merged into alice's");
  });
});

test('throwaway connections from one source cannot evict a held name: its owner takes it back', async () => {
  const d = await startDaemon(
    { chat: PW },
    { limits: { resumeGraceMs: 30_000, maxMembersPerRoom: 4, maxHoldsPerSource: 3, joinRatePerSource: 0 } },
  );
  const open: RawClient[] = [];
  try {
    const alice = await member(d, 'alice', '127.0.0.1');
    alice.c.destroy();
    await waitFor(() => d.daemon.stats().members === 0, 'alice gone');
    for (let i = 0; i < 6; i++) {
      const t = await member(d, `throwaway${i}`, '127.0.0.2');
      t.c.destroy();
      await waitFor(() => d.daemon.stats().members === 0, 'throwaway gone');
    }
    const room = d.registry.get('chat');
    assert.ok(room && room.heldNames <= 4, `held names bounded (${room?.heldNames})`);
    const stranger = await rawAuthenticated(d.port, 'chat', PW, '127.0.0.2');
    open.push(stranger);
    assert.equal((await stranger.join('alice')).code, 'name_taken');
    const back = await resume(d, alice.init, 0, (f) => f.type === 'init' || f.type === 'error');
    open.push(back.c);
    assert.equal(back.frames.at(-1)?.type, 'init', JSON.stringify(back.frames.at(-1)));
    assert.equal((back.frames.at(-1)?.you as { username?: string } | undefined)?.username, 'alice');
  } finally {
    for (const c of open) c.destroy();
    await d.stop();
  }
});
