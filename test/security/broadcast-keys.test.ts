/**
 * The room broadcast key against real daemons and real sockets (protocol v3): a member that
 * left, or that the daemon removed as a slow reader, holds no key that opens anything sent
 * after; a (key, nonce) pair never seals two different batches, across a daemon restart and
 * across two daemons; and a v2 client is refused with the upgrade message.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, test } from 'node:test';
import { openBatch } from '../../lib/crypto/broadcast.js';
import { sealEnvelope } from '../../lib/crypto/envelope.js';
import { ErrorText } from '../../lib/protocol/errors.js';
import { RECORD_BROADCAST } from '../../lib/protocol/records.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { type RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const PW = 'correct horse battery staple';
type Frame = Record<string, unknown>;
/** Every raw member made, closed after each test whatever its outcome. */
const everyone: RawClient[] = [];
afterEach(() => {
  for (const c of everyone.splice(0)) c.destroy();
});

/** A joined raw member whose every record is read, verified and kept as it arrives. */
async function member(td: TestDaemon, name: string): Promise<{ c: RawClient; frames: Frame[] }> {
  const c = await rawAuthenticated(td.port, 'chat', PW);
  everyone.push(c);
  const frames: Frame[] = [];
  assert.equal((await c.join(name)).type, 'init');
  void (async () => {
    try {
      for (;;) frames.push(...(await c.nextFrames(600_000)));
    } catch {
      // closed
    }
  })();
  return { c, frames };
}

function say(c: RawClient, body: string): void {
  c.sendFrame({ type: 'message', text: sealEnvelope(c.fernet!, { from: '', kind: 'text', body }) });
}

const messages = (frames: Frame[]): number => frames.filter((f) => f.type === 'message').length;

/** The batches of the broadcast records among `records`. */
function batches(records: Buffer[]): Buffer[] {
  return records.filter((r) => r[0] === RECORD_BROADCAST).map((r) => r.subarray(17));
}

/** Asserts that none of `keys` opens any of `sealed`, whatever key id is claimed. */
function opensNothing(keys: Array<{ id: string; key: string }>, sealed: Buffer[]): void {
  assert.ok(sealed.length > 0, 'there were batches to try');
  for (const k of keys) {
    const key = Buffer.from(k.key, 'base64');
    for (const batch of sealed) {
      assert.throws(() => openBatch(key, Buffer.from(k.id, 'base64'), batch));
      assert.throws(() => openBatch(key, batch.subarray(0, 8), batch));
    }
  }
}

test('a member that left holds no key that opens what is sent after it left', async () => {
  const td = await startDaemon({ chat: PW });
  try {
    const ann = await member(td, 'ann');
    const bob = await member(td, 'bob');
    const cat = await member(td, 'cat');
    say(ann.c, 'before');
    await waitFor(() => messages(cat.frames) === 1 && messages(bob.frames) === 1, 'the first message');
    // Sanity: the key cat holds does open what it was sent.
    const lastOfCat = cat.c.roomKeys.at(-1)!;
    const before = batches(cat.c.records).at(-1)!;
    assert.match(
      openBatch(Buffer.from(lastOfCat.key, 'base64'), before.subarray(0, 8), before).plaintext.toString(),
      /"message"/,
    );
    cat.c.sendFrame({ type: 'leave' });
    cat.c.destroy();
    await waitFor(
      () => bob.frames.some((f) => f.type === 'user_left' && f.username === 'cat'),
      'cat to leave',
    );
    const mark = bob.c.records.length;
    for (let i = 0; i < 3; i++) say(ann.c, `after ${i}`);
    await waitFor(() => messages(bob.frames) === 4, 'the later messages');
    opensNothing(cat.c.roomKeys, batches(bob.c.records.slice(mark)));
    assert.notEqual(bob.c.roomKeys.at(-1)!.key, lastOfCat.key, 'bob was handed a new key');
    ann.c.destroy();
    bob.c.destroy();
  } finally {
    await td.stop();
  }
});

test('a member removed as a slow reader holds no key that opens what is sent after', async () => {
  const td = await startDaemon(
    { chat: PW },
    { limits: { maxQueueBytes: 256 * 1024, slowReaderGraceMs: 200, roomRateBytesPerSecond: 0 } },
  );
  try {
    const ann = await member(td, 'ann');
    const bob = await member(td, 'bob');
    const cat = await member(td, 'cat');
    say(ann.c, 'hello');
    await waitFor(() => messages(cat.frames) === 1, 'the first message');
    cat.c.socket.pause();
    const big = 'q'.repeat(40_000);
    let sent = 0;
    const removed = (): boolean => bob.frames.some((f) => f.type === 'user_left' && f.username === 'cat');
    while (!removed() && sent < 400) {
      say(ann.c, big);
      sent++;
      await waitFor(() => messages(bob.frames) === sent + 1 || removed(), 'bob to keep up');
    }
    await waitFor(removed, 'cat removed as a slow reader');
    const mark = bob.c.records.length;
    const markMessages = messages(bob.frames);
    for (let i = 0; i < 3; i++) say(ann.c, `after ${i}`);
    await waitFor(() => messages(bob.frames) === markMessages + 3, 'the later messages');
    // Everything the daemon wrote to cat before closing: read it all, keys included.
    cat.c.socket.resume();
    await cat.c.waitClosed();
    await waitFor(
      () => cat.frames.some((f) => f.type === 'error' && f.code === 'slow_reader'),
      'the farewell',
    );
    opensNothing(cat.c.roomKeys, batches(bob.c.records.slice(mark)));
    ann.c.destroy();
    bob.c.destroy();
  } finally {
    await td.stop();
  }
});

test('a (broadcast key, nonce) pair never seals two different batches: restarts and two daemons', async () => {
  const seen = new Map<string, string>();
  let pairs = 0;
  let round = 0;
  const run = async (td: TestDaemon): Promise<void> => {
    const r = round++;
    const ann = await member(td, `ann${r}`);
    const bob = await member(td, `bob${r}`);
    for (let i = 0; i < 5; i++) {
      say(ann.c, `m${i}`);
      await waitFor(() => messages(bob.frames) === i + 1, 'each message');
    }
    // A member joining rotates the key; more batches under the new one.
    const cat = await member(td, `cat${r}`);
    say(bob.c, 'late');
    await waitFor(() => messages(cat.frames) === 1, 'the late message');
    for (const m of [ann, bob, cat]) {
      const keys = new Map(m.c.roomKeys.map((k) => [Buffer.from(k.id, 'base64').toString('hex'), k.key]));
      for (const batch of batches(m.c.records)) {
        const key = keys.get(batch.subarray(0, 8).toString('hex'));
        assert.ok(key, 'every batch is under a key the member was handed');
        const nonce = Buffer.concat([batch.subarray(0, 4), batch.subarray(8, 16)]).toString('hex');
        const pair = `${key}/${nonce}`;
        const bytes = batch.toString('hex');
        const earlier = seen.get(pair);
        assert.ok(earlier === undefined || earlier === bytes, `(key, nonce) reused: ${nonce}`);
        if (earlier === undefined) pairs++;
        seen.set(pair, bytes);
      }
      m.c.destroy();
    }
  };
  // One daemon, restarted (the same rooms and passwords: the same room keys and salts)…
  let td = await startDaemon({ chat: PW });
  await run(td);
  await td.stop();
  td = await startDaemon({ chat: PW });
  await run(td);
  // …and a second daemon of the same rooms alongside (a cluster's daemons each seal their own).
  const other = await startDaemon({ chat: PW });
  try {
    await Promise.all([run(td), run(other)]);
  } finally {
    await td.stop();
    await other.stop();
  }
  assert.ok(pairs >= 4 * 6, `pairs seen: ${pairs}`);
});

test('a v2 client is refused with the upgrade message, then closed', async () => {
  const td = await startDaemon({ chat: PW });
  try {
    const sock = net.connect({ host: '127.0.0.1', port: td.port });
    await once(sock, 'connect');
    let text = '';
    sock.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    const A = Buffer.alloc(256, 7).toString('base64');
    sock.write(`${JSON.stringify({ cmd: 'srp_init', v: 2, room: 'chat', A })}\n`);
    await once(sock, 'close');
    const reply = JSON.parse(text.trim()) as { error: string; code: string };
    assert.equal(reply.code, 'unsupported_version');
    assert.equal(reply.error, ErrorText.unsupported_version);
    assert.match(reply.error, /protocol v3 only; please upgrade your cmd-chat client/);
  } finally {
    await td.stop();
  }
});
