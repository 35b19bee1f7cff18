/**
 * The bad-input catalogue (QUALITY.md promise 3, issue 3's raw-TCP items): one named test per
 * hostile or broken input, sent over raw TCP to an in-process daemon on the real TCP
 * transport. After each: the offender got a clear error (where the protocol sends one) and
 * was disconnected where the protocol says so; two other members of the room still exchange
 * a message; the daemon's counters are back to what they were (no leaked connection or
 * pending handshake).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ChatEvent, MessageEvent } from '../../lib/client/events.js';
import { renderEvent, renderPlain } from '../../lib/client/render.js';
import type { ChatSession } from '../../lib/client/session/session.js';
import { newMessageId } from '../../lib/crypto/envelope.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import { modPowBigInt, N_BYTES } from '../../lib/crypto/srp.js';
import { ErrorText } from '../../lib/protocol/errors.js';
import { joinAs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { vectorsDir } from '../helpers/paths.js';
import { RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const PW = 'correct horse battery staple';
const N_HEX: string = JSON.parse(readFileSync(join(vectorsDir, 'srp-rfc5054-sha256-2048.json'), 'utf8')).N;
const N = BigInt(`0x${N_HEX}`);
const A_VALID = modPowBigInt(Buffer.from([2]), Buffer.alloc(32, 7)).toString('base64');

function bigToB64(n: bigint): string {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex').toString('base64');
}

// ---- One shared room with two well-behaved members, alice and bob. ----

let d: TestDaemon;
let alice: ChatSession;
let bob: ChatSession;
let counter = 0;

before(async () => {
  d = await startDaemon({ chat: PW, other: 'another password' }, { limits: { maxRecordBytes: 16 * 1024 } });
  alice = await joinAs(d, 'chat', PW, 'alice');
  bob = await joinAs(d, 'chat', PW, 'bob');
});

after(async () => {
  await alice.close();
  await bob.close();
  await d.stop();
});

/** Resolves with the next message event `session` sees that satisfies `match`. */
function nextMessage(
  session: ChatSession,
  match: (e: MessageEvent) => boolean,
  timeoutMs = 15_000,
): Promise<MessageEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      session.off('event', on);
      reject(new Error('timed out waiting for a message event'));
    }, timeoutMs);
    const on = (e: ChatEvent): void => {
      if (e.type === 'message' && match(e)) {
        clearTimeout(timer);
        session.off('event', on);
        resolve(e);
      }
    };
    session.on('event', on);
  });
}

/** alice → bob and bob → alice still work, through the daemon `td`. */
async function stillServed(a: ChatSession = alice, b: ChatSession = bob): Promise<void> {
  const n = ++counter;
  const toB = nextMessage(b, (e) => e.body === `still here ${n}` && !e.mine);
  a.send(`still here ${n}`);
  assert.equal((await toB).username, a.me.username);
  const toA = nextMessage(a, (e) => e.body === `and back ${n}` && !e.mine);
  b.send(`and back ${n}`);
  assert.equal((await toA).username, b.me.username);
}

/** The daemon's counters come back to `connections` open and no pending handshake. */
async function settled(td: TestDaemon = d, connections = 2, members = connections): Promise<void> {
  await waitFor(
    () => {
      const s = td.daemon.stats();
      return s.connections === connections && s.pendingHandshakes === 0 && s.members === members;
    },
    `daemon stats back to ${connections} connections: ${JSON.stringify(td.daemon.stats())}`,
  );
}

/** The offender gets `{"error": text, "code": code}` (plaintext, handshake form), then is closed. */
async function expectHandshakeError(c: RawClient, code: keyof typeof ErrorText): Promise<void> {
  const frame = await c.nextJson();
  assert.equal(frame.code, code, `expected ${code}, got ${JSON.stringify(frame)}`);
  assert.equal(frame.error, ErrorText[code]);
  await c.waitClosed();
}

/** After authentication: a sealed `{"type":"error","code"}` frame, then (if `fatal`) close. */
async function expectChannelError(c: RawClient, code: string, fatal: boolean): Promise<void> {
  const frame = await c.nextFrameWhere((f) => f.type === 'error');
  assert.equal(frame.code, code, `expected ${code}, got ${JSON.stringify(frame)}`);
  assert.equal(typeof frame.message, 'string');
  assert.ok((frame.message as string).length > 0);
  if (fatal) await c.waitClosed();
}

async function offender(): Promise<RawClient> {
  return RawClient.connect({ port: d.port });
}

async function afterEach(...clients: RawClient[]): Promise<void> {
  for (const c of clients) c.destroy();
  await stillServed();
  await settled();
}

// ---- Before authentication ----

test('not JSON: bad_request, then disconnected', async () => {
  for (const line of ['hello', '{"cmd":"srp_init",', '\u00ff\u00fe garbage', '{}}']) {
    const c = await offender();
    c.sendLine(line);
    await expectHandshakeError(c, 'bad_request');
  }
  const c = await offender();
  c.write(Buffer.from([0xff, 0xfe, 0x80, 0x0a])); // invalid UTF-8
  await expectHandshakeError(c, 'bad_request');
  await afterEach();
});

test('JSON that is not an object (array, number, string, null): bad_request each', async () => {
  for (const line of ['[]', '[{"cmd":"srp_init"}]', '42', '"srp_init"', 'null', 'true']) {
    const c = await offender();
    c.sendLine(line);
    await expectHandshakeError(c, 'bad_request');
  }
  await afterEach();
});

test('wrong types: A as a number, room as an object, v as a string, create as an array', async () => {
  const frames = [
    { cmd: 'srp_init', v: 3, room: 'chat', A: 12345 },
    { cmd: 'srp_init', v: 3, room: { name: 'chat' }, A: A_VALID },
    { cmd: 'srp_init', v: '2', room: 'chat', A: A_VALID },
    { cmd: 'srp_init', v: 2.5, room: 'chat', A: A_VALID },
    { cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID, create: [1, 2] },
    { cmd: ['srp_init'], v: 3, room: 'chat', A: A_VALID },
  ];
  for (const frame of frames) {
    const c = await offender();
    c.sendJson(frame);
    await expectHandshakeError(c, 'bad_request');
  }
  await afterEach();
});

test('missing fields: no cmd, no A, no room; srp_verify without M or user_id', async () => {
  for (const frame of [
    { v: 3, room: 'chat', A: A_VALID },
    { cmd: 'srp_init', v: 3, room: 'chat' },
    { cmd: 'srp_init', v: 3, A: A_VALID },
  ]) {
    const c = await offender();
    c.sendJson(frame);
    await expectHandshakeError(c, 'bad_request');
  }
  for (const verify of [
    { cmd: 'srp_verify' },
    { cmd: 'srp_verify', M: Buffer.alloc(32).toString('base64') },
  ]) {
    const c = await offender();
    c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
    const challenge = await c.nextJson();
    assert.equal(typeof challenge.user_id, 'string');
    c.sendJson(verify);
    await expectHandshakeError(c, 'bad_request');
  }
  await afterEach();
});

test('out of order: srp_verify as the first frame', async () => {
  const c = await offender();
  c.sendJson({ cmd: 'srp_verify', user_id: 'x', M: Buffer.alloc(32).toString('base64') });
  await expectHandshakeError(c, 'bad_request');
  await afterEach();
});

test('out of order: join (or message) before the handshake', async () => {
  for (const frame of [
    { type: 'join', username: 'eve' },
    { type: 'message', text: 'hi' },
  ]) {
    const c = await offender();
    c.sendJson(frame);
    await expectHandshakeError(c, 'bad_request');
  }
  await afterEach();
});

test('out of order: a second srp_init instead of srp_verify', async () => {
  const c = await offender();
  c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
  await c.nextJson();
  c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
  await expectHandshakeError(c, 'bad_request');
  await afterEach();
});

test('a line over the size limit before authentication: too_large, disconnected', async () => {
  const c = await offender();
  c.sendLine(JSON.stringify({ cmd: 'srp_init', v: 3, room: 'chat', A: 'A'.repeat(8000) }));
  await expectHandshakeError(c, 'too_large');
  // Without a newline at all: the limit applies to the unfinished line too.
  const c2 = await offender();
  c2.write('x'.repeat(64 * 1024));
  await expectHandshakeError(c2, 'too_large');
  await afterEach();
});

test('invalid base64 in A, in M, and a non-canonical base64 length', async () => {
  for (const A of ['!!!!', 'AAA', 'A===', '****'.repeat(10), 'AAAA AAAA']) {
    const c = await offender();
    c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A });
    await expectHandshakeError(c, 'bad_request');
  }
  const c = await offender();
  c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
  const ch = await c.nextJson();
  c.sendJson({ cmd: 'srp_verify', user_id: ch.user_id, M: '%'.repeat(44) });
  await expectHandshakeError(c, 'bad_request');
  await afterEach();
});

test('A = 0 is refused', async () => {
  for (const A of [Buffer.alloc(1).toString('base64'), Buffer.alloc(256).toString('base64')]) {
    const c = await offender();
    c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A });
    await expectHandshakeError(c, 'bad_request');
  }
  await afterEach();
});

test('A = N is refused', async () => {
  const c = await offender();
  c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: bigToB64(N) });
  await expectHandshakeError(c, 'bad_request');
  await afterEach();
});

test('A = 2N (and other multiples of N) is refused', async () => {
  for (const k of [2n, 3n]) {
    const c = await offender();
    c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: bigToB64(k * N) });
    await expectHandshakeError(c, 'bad_request');
  }
  await afterEach();
});

test('a wrong proof: auth_failed, disconnected', async () => {
  const c = await offender();
  c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
  const ch = await c.nextJson();
  c.sendJson({ cmd: 'srp_verify', user_id: ch.user_id, M: Buffer.alloc(32, 1).toString('base64') });
  await expectHandshakeError(c, 'auth_failed');
  // And a real client with the wrong password fails the same way.
  const wrong = await offender();
  await assert.rejects(wrong.handshake('chat', 'not the password'), (err: Error) => {
    assert.match(err.message, /authentication failed/);
    return true;
  });
  await wrong.waitClosed();
  assert.ok(d.daemon.stats().handshakesFailed >= 2);
  await afterEach(c, wrong);
});

test('a replayed proof: srp_init and M of a successful handshake, replayed on a new connection', async () => {
  const good = await offender();
  await good.handshake('chat', PW);
  const [init, verify] = good.handshakeSent as [Record<string, unknown>, Record<string, unknown>];
  assert.equal(verify.cmd, 'srp_verify');
  const replay = await offender();
  replay.sendJson(init);
  const ch = await replay.nextJson();
  assert.notEqual(ch.user_id, verify.user_id);
  replay.sendJson({ ...verify, user_id: ch.user_id });
  await expectHandshakeError(replay, 'auth_failed');
  // Replaying it verbatim (with the old user_id) fails too.
  const replay2 = await offender();
  replay2.sendJson(init);
  await replay2.nextJson();
  replay2.sendJson(verify);
  await expectHandshakeError(replay2, 'bad_request');
  await afterEach(good);
});

test('a user_id of another handshake: refused, and the other handshake is unharmed', async () => {
  const first = await offender();
  first.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
  const ch1 = await first.nextJson();
  const second = await offender();
  second.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
  const ch2 = await second.nextJson();
  assert.notEqual(ch1.user_id, ch2.user_id);
  second.sendJson({ cmd: 'srp_verify', user_id: ch1.user_id, M: Buffer.alloc(32, 3).toString('base64') });
  await expectHandshakeError(second, 'bad_request');
  assert.equal(first.closed, false);
  // The first still gets a proper answer (auth_failed for its bogus M), not a crash.
  first.sendJson({ cmd: 'srp_verify', user_id: ch1.user_id, M: Buffer.alloc(32, 4).toString('base64') });
  await expectHandshakeError(first, 'auth_failed');
  await afterEach();
});

test('a v1 srp_init (no "v") gets unsupported_version with a human message', async () => {
  const c = await offender();
  c.sendJson({ cmd: 'srp_init', username: 'old-client', A: A_VALID });
  const frame = await c.nextJson();
  assert.equal(frame.code, 'unsupported_version');
  assert.match(String(frame.error), /v3 only; please upgrade/);
  await c.waitClosed();
  await afterEach();
});

test('v = 2 (a client from before v3) and v = 4 get unsupported_version', async () => {
  for (const v of [2, 4]) {
    const c = await offender();
    c.sendJson({ cmd: 'srp_init', v, room: 'chat', A: A_VALID });
    await expectHandshakeError(c, 'unsupported_version');
  }
  await afterEach();
});

test('a room name with control characters is answered like any unknown room or refused', async () => {
  const c = await offender();
  c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat\u001b]0;pwned\u0007', A: A_VALID });
  const frame = await c.nextJson();
  // Either a decoy challenge (indistinguishable) or a clean refusal; never a crash or a leak.
  if (frame.error !== undefined) {
    assert.ok(typeof frame.code === 'string' && frame.code in ErrorText);
    await c.waitClosed();
  } else {
    assert.equal(typeof frame.B, 'string');
  }
  await afterEach(c);
});

// ---- Timeouts and slow senders (own daemon with a short handshake timeout) ----

test('a line that never ends, sent slowly, is ended by the handshake timeout', async () => {
  const td = await startDaemon({ chat: PW }, { limits: { handshakeTimeoutMs: 800 } });
  try {
    const c = await RawClient.connect({ port: td.port });
    const text = '{"cmd":"srp_init","v":3,"room":"chat","A":"';
    let i = 0;
    const drip = setInterval(() => c.write(text[i++ % text.length]!), 50);
    try {
      await expectHandshakeError(c, 'timeout');
    } finally {
      clearInterval(drip);
    }
    await settled(td, 0);
    assert.equal(td.daemon.stats().errors.timeout, 1);
  } finally {
    await td.stop();
  }
});

test('a line that never ends, sent slowly, is ended by the line limit before the timeout', async () => {
  const td = await startDaemon({ chat: PW }, { limits: { handshakeTimeoutMs: 30_000 } });
  try {
    const c = await RawClient.connect({ port: td.port });
    const drip = setInterval(() => c.write('a'.repeat(256)), 5);
    try {
      await expectHandshakeError(c, 'too_large');
    } finally {
      clearInterval(drip);
    }
    await settled(td, 0);
  } finally {
    await td.stop();
  }
});

test('an authenticated client that never joins is closed by the join timeout', async () => {
  const td = await startDaemon({ chat: PW }, { limits: { joinTimeoutMs: 500 } });
  try {
    const c = await rawAuthenticated(td.port, 'chat', PW);
    await expectChannelError(c, 'timeout', true);
    await settled(td, 0);
  } finally {
    await td.stop();
  }
});

// ---- After authentication: the channel ----

test('message before join: not_joined (non-fatal), then join works', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  c.sendFrame({ type: 'message', text: 'x' });
  await expectChannelError(c, 'not_joined', false);
  c.sendFrame({ type: 'clear' });
  await expectChannelError(c, 'not_joined', false);
  const init = await c.join('carol');
  assert.equal(init.type, 'init');
  c.sendFrame({ type: 'join', username: 'carol2' });
  await expectChannelError(c, 'already_joined', false);
  await afterEach(c);
});

test('a record over the size limit after authentication: too_large, disconnected', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('big')).type, 'init');
  c.sendFrame({ type: 'message', text: 'x'.repeat(20_000) }); // record > 16 KiB
  await expectChannelError(c, 'too_large', true);
  await afterEach(c);
});

test('a message token over maxMessageChars inside a record is refused non-fatally', async () => {
  const td = await startDaemon({ chat: PW }, { limits: { maxMessageChars: 1000 } });
  try {
    const c = await rawAuthenticated(td.port, 'chat', PW);
    assert.equal((await c.join('big')).type, 'init');
    c.sendFrame({ type: 'message', text: 'x'.repeat(1001) });
    await expectChannelError(c, 'bad_request', false);
    c.sendFrame({ type: 'ping', t: 1 });
    const pong = await c.nextFrameWhere((f) => f.type === 'pong');
    assert.equal(pong.t, 1);
    c.destroy();
    await settled(td, 0);
  } finally {
    await td.stop();
  }
});

test('a record of an unknown kind, or a broadcast record from a client: disconnected', async () => {
  for (const kind of [9, 2]) {
    const c = await rawAuthenticated(d.port, 'chat', PW);
    assert.equal((await c.join(`dave${kind}`)).type, 'init');
    const record = c.seal(JSON.stringify({ type: 'ping', t: 5 }));
    record[4] = kind;
    c.write(record);
    await expectChannelError(c, 'bad_request', true);
    c.destroy();
  }
  await afterEach();
});

test('a record length over the limit (or zero) after the handshake: disconnected', async () => {
  for (const length of [0, 0x7fffffff]) {
    const c = await rawAuthenticated(d.port, 'chat', PW);
    assert.equal((await c.join(`len${length % 7}`)).type, 'init');
    const head = Buffer.alloc(5);
    head.writeUInt32BE(length, 0);
    c.write(head);
    await expectChannelError(c, 'too_large', true);
    c.destroy();
  }
  await afterEach();
});

test('a channel record with a flipped bit: disconnected', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('erin')).type, 'init');
  const record = c.seal(JSON.stringify({ type: 'ping', t: 5 }));
  record[8]! ^= 0x10;
  c.write(record);
  await expectChannelError(c, 'bad_request', true);
  await afterEach(c);
});

test('a flipped bit in the tag of a record: disconnected', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('erin')).type, 'init');
  const record = c.seal(JSON.stringify({ type: 'ping', t: 5 }));
  record[record.length - 1]! ^= 0x01;
  c.write(record);
  await expectChannelError(c, 'bad_request', true);
  await afterEach(c);
});

test('a replayed channel record: disconnected, the replayed message is not delivered twice', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('frank')).type, 'init');
  const seen: string[] = [];
  const onEvent = (e: ChatEvent): void => {
    if (e.type === 'message' && e.username === 'frank') seen.push(e.body);
  };
  bob.on('event', onEvent);
  const record = c.seal(JSON.stringify({ type: 'message', text: sealToken(c, 'frank', 'pay me once') }));
  c.write(record);
  await c.nextFrameWhere((f) => f.type === 'message');
  c.write(record);
  await expectChannelError(c, 'bad_request', true);
  await stillServed();
  bob.off('event', onEvent);
  assert.deepEqual(seen, ['pay me once']);
  await afterEach(c);
});

test('reordered channel records: disconnected, nothing out of order delivered', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('grace')).type, 'init');
  const seen: string[] = [];
  const onEvent = (e: ChatEvent): void => {
    if (e.type === 'message' && e.username === 'grace') seen.push(e.body);
  };
  bob.on('event', onEvent);
  const first = c.seal(JSON.stringify({ type: 'message', text: sealToken(c, 'grace', 'first') }));
  const second = c.seal(JSON.stringify({ type: 'message', text: sealToken(c, 'grace', 'second') }));
  c.write(second);
  c.write(first);
  await expectChannelError(c, 'bad_request', true);
  await stillServed();
  bob.off('event', onEvent);
  assert.deepEqual(seen, []);
  await afterEach(c);
});

test('a record carrying a JSON value that is not an object: disconnected', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('heidi')).type, 'init');
  c.sendFrame('[1,2,3]');
  await expectChannelError(c, 'bad_request', true);
  await afterEach(c);
});

test('an unknown frame type or wrong field types inside the channel: bad_request, non-fatal', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('ivan')).type, 'init');
  for (const frame of [
    { type: 'hack' },
    { type: 'message', text: 42 },
    { type: 'ping', t: 'soon' },
    { type: 'join' },
    { type: 'nick', username: null },
  ]) {
    c.sendFrame(frame);
    const err = await c.nextFrameWhere((f) => f.type === 'error');
    assert.ok(err.code === 'bad_request' || err.code === 'bad_name' || err.code === 'already_joined');
  }
  c.sendFrame({ type: 'ping', t: 9 });
  assert.equal((await c.nextFrameWhere((f) => f.type === 'pong')).t, 9);
  await afterEach(c);
});

function sealToken(c: RawClient, from: string, body: string, fernet?: Fernet): string {
  // Same as RawClient.sendMessage, but returns the token.
  const f = fernet ?? c.fernet!;
  return f.encrypt(JSON.stringify({ from, id: newMessageId(), kind: 'text', body }));
}

test('a Fernet token from another room: relayed, shown as [cannot decrypt] to members', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('judy')).type, 'init');
  const foreign = new Fernet(Buffer.alloc(32, 9));
  const got = nextMessage(bob, (e) => e.username === 'judy');
  c.sendMessage('secret from elsewhere', { fernet: foreign, from: 'judy' });
  const ev = await got;
  assert.equal(ev.undecryptable, true);
  assert.equal(ev.body, '');
  assert.match(renderPlain(ev), /\[cannot decrypt\]/);
  assert.doesNotMatch(renderPlain(ev), /secret from elsewhere/);
  // Garbage that is not a token at all is the same.
  const got2 = nextMessage(alice, (e) => e.username === 'judy');
  c.sendFrame({ type: 'message', text: 'not-a-fernet-token' });
  assert.equal((await got2).undecryptable, true);
  await afterEach(c);
});

test('a forged "from": members see the mismatch flagged', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('mallory')).type, 'init');
  const got = nextMessage(bob, (e) => e.username === 'mallory');
  c.sendMessage('send the money to mallory', { from: 'alice' });
  const ev = await got;
  assert.equal(ev.undecryptable, false);
  assert.equal(ev.forgedFrom, 'alice');
  assert.match(renderPlain(ev), /claims to be "alice"/);
  assert.match(renderEvent(ev, { color: false, me: 'bob' }), /claims to be "alice"/);
  await afterEach(c);
});

test('names with escapes, bidi or zero-width characters: bad_name, non-fatal; a good name then works', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  const bad = [
    'evil\u001b[2Jname',
    '\u001b]0;owned\u0007',
    'ad\u202emin',
    'ali\u200bce',
    'bob\u200d',
    '\u2066x\u2069',
    'tab\tname',
    'nl\nname',
    '',
    '   ',
    'x'.repeat(33),
    'b\ufeffom',
    'del\u007f',
    'c1\u009bname',
  ];
  for (const name of bad) {
    const r = await c.join(name);
    assert.equal(r.type, 'error', `name ${JSON.stringify(name)} was accepted`);
    assert.equal(r.code, 'bad_name');
  }
  // Case-insensitive uniqueness: "ALICE" is taken (non-fatal too).
  const taken = await c.join('ALICE');
  assert.equal(taken.code, 'name_taken');
  const joined = new Promise<ChatEvent>((resolve) =>
    bob.on('event', function on(e) {
      if (e.type === 'join' && e.username === 'kim') {
        bob.off('event', on);
        resolve(e);
      }
    }),
  );
  const ok = await c.join('kim');
  assert.equal(ok.type, 'init');
  await joined;
  // A rename to a bad name is refused the same way and the member stays.
  c.sendFrame({ type: 'nick', username: 'k\u202eim' });
  assert.equal((await c.nextFrameWhere((f) => f.type === 'error')).code, 'bad_name');
  await afterEach(c);
});

test('a message body with terminal escape sequences is relayed and rendered inert', async () => {
  const c = await rawAuthenticated(d.port, 'chat', PW);
  assert.equal((await c.join('trickster')).type, 'init');
  const hostile =
    'title\u001b]0;pwned\u0007 clear\u001b[2J\u001b[H home\u001b[10;10H move\u001b[3A up' +
    ' bell\u0007 csi8\u009b31m osc8\u009d0;x\u009c dcs\u001bPq#0\u001b\\ reset\u001bc save\u001b7' +
    ' cr\roverwrite bidi\u202eevil\u202c';
  const got = nextMessage(bob, (e) => e.username === 'trickster');
  c.sendMessage(hostile, { from: 'trickster' });
  const ev = await got;
  assert.equal(ev.body, hostile, 'the session passes the decrypted body on unchanged');
  const plain = renderPlain(ev);
  const mono = renderEvent(ev, { color: false, me: 'bob' });
  const colour = renderEvent(ev, { color: true, me: 'bob' });
  const ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
  for (const out of [plain, mono]) {
    assert.doesNotMatch(out, ACTIVE, `active byte in ${JSON.stringify(out)}`);
  }
  // With colour, the only escapes are the renderer's own SGR sequences.
  const withoutSgr = colour.replace(/\u001b\[[0-9;]*m/g, '');
  assert.doesNotMatch(withoutSgr, ACTIVE, `active byte in ${JSON.stringify(colour)}`);
  assert.match(plain, /title.*clear.*move/s);
  await afterEach(c);
});

// ---- Floods and limits (own daemons) ----

async function pairOn(td: TestDaemon): Promise<[ChatSession, ChatSession]> {
  return [await joinAs(td, 'chat', PW, 'alice'), await joinAs(td, 'chat', PW, 'bob')];
}

async function closeAll(td: TestDaemon, ...sessions: ChatSession[]): Promise<void> {
  for (const s of sessions) await s.close();
  await td.stop();
}

test('a flood of messages from one member: reads paused, nothing dropped, order kept', async () => {
  const rate = 400;
  const burst = 50;
  const td = await startDaemon({ chat: PW }, { limits: { rateFramesPerSecond: rate, rateBurst: burst } });
  const [a, b] = await pairOn(td);
  try {
    const flooder = await rawAuthenticated(td.port, 'chat', PW);
    assert.equal((await flooder.join('flood')).type, 'init');
    const total = 600;
    const received: string[] = [];
    const all = new Promise<void>((resolve) =>
      b.on('event', (e) => {
        if (e.type === 'message' && e.username === 'flood') {
          received.push(e.body);
          if (received.length === total) resolve();
        }
      }),
    );
    const started = Date.now();
    // One write: the daemon gets it all at once and must hold back, not drop.
    const records: Buffer[] = [];
    for (let i = 0; i < total; i++) {
      records.push(
        flooder.seal(JSON.stringify({ type: 'message', text: sealToken(flooder, 'flood', `m${i}`) })),
      );
    }
    flooder.write(Buffer.concat(records));
    // Meanwhile the others are still served.
    await stillServed(a, b);
    await all;
    const elapsed = Date.now() - started;
    assert.deepEqual(
      received,
      Array.from({ length: total }, (_, i) => `m${i}`),
    );
    // The token bucket makes this deterministic: (total - burst) frames at `rate` per second
    // cannot be handled faster. A lower bound only (half of it, for clock slack).
    assert.ok(elapsed >= ((total - burst) / rate) * 500, `flood was not slowed (${elapsed} ms)`);
    assert.equal(td.daemon.stats().errors.slow_reader, undefined);
    assert.equal(flooder.closed, false);
    flooder.destroy();
    await stillServed(a, b);
    await settled(td, 2);
  } finally {
    await closeAll(td, a, b);
  }
});

test('a flood of handshakes: the oldest unfinished ones make way, the room keeps delivering', async () => {
  const td = await startDaemon(
    { chat: PW },
    { limits: { maxPendingHandshakes: 16, maxClientsPerAddress: 1000, handshakeRatePerSource: 0 } },
  );
  const [a, b] = await pairOn(td);
  try {
    const flood: RawClient[] = [];
    for (let i = 0; i < 48; i++) {
      const c = await RawClient.connect({ port: td.port });
      c.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
      flood.push(c);
    }
    await waitFor(() => flood.filter((c) => c.closed).length >= 32, 'the oldest handshakes to be evicted');
    await stillServed(a, b);
    // The 32 oldest were closed with `busy` (some after their challenge); the newest 16 stay.
    for (const [i, c] of flood.entries()) {
      const lines = c.rawReceived.split('\n').filter((l) => l !== '');
      if (i < 32) {
        assert.ok(c.closed, `connection ${i} should have been evicted`);
        const last = JSON.parse(lines[lines.length - 1]!);
        assert.equal(last.code, 'busy');
        assert.equal(last.error, ErrorText.busy);
      } else {
        assert.ok(!c.closed, `connection ${i} should still be pending`);
      }
    }
    assert.equal(td.daemon.stats().pendingHandshakes, 16);
    assert.equal(td.daemon.stats().evicted, 32);
    // A new member gets in while the flood still holds the table: it evicts the oldest.
    const carol = await joinAs(td, 'chat', PW, 'carol');
    await stillServed(carol, a);
    await carol.close();
    for (const c of flood) c.destroy();
  } finally {
    await closeAll(td, a, b);
  }
});

test('thousands of idle connections: the extra ones are refused busy, the rest time out, stats return to 0', async () => {
  const td = await startDaemon(
    { chat: PW },
    {
      limits: {
        maxClients: 1024,
        maxPendingHandshakes: 4096,
        maxClientsPerAddress: 4096,
        // Long enough that every connection is made before the first one times out, even when
        // the machine is loaded (an earlier timeout frees a slot and turns a busy into a timeout).
        handshakeTimeoutMs: 8000,
      },
    },
  );
  try {
    const sockets: RawClient[] = [];
    const total = 2000;
    for (let i = 0; i < total; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, total - i) }, () => RawClient.connect({ port: td.port })),
      );
      sockets.push(...batch);
    }
    assert.ok(td.daemon.stats().connections <= 1024);
    await waitFor(() => sockets.every((s) => s.closed), 'every idle connection to be closed', 45_000);
    const codes = new Map<string, number>();
    for (const s of sockets) {
      const code = String(JSON.parse(s.rawReceived.split('\n')[0]!).code);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    assert.deepEqual([...codes.keys()].sort(), ['busy', 'timeout']);
    assert.ok(codes.get('busy')! >= total - 1024, JSON.stringify([...codes]));
    assert.equal(codes.get('busy')! + codes.get('timeout')!, total);
    await settled(td, 0);
    // And the daemon still authenticates and relays afterwards.
    const [a, b] = await pairOn(td);
    await stillServed(a, b);
    await a.close();
    await b.close();
  } finally {
    await td.stop();
  }
});

test('a reader that never reads is disconnected once its queue passes the bound; the room goes on', async () => {
  const td = await startDaemon({ chat: PW }, { limits: { maxQueueBytes: 1024 * 1024 } });
  const [a, b] = await pairOn(td);
  try {
    const sloth = await rawAuthenticated(td.port, 'chat', PW);
    assert.equal((await sloth.join('sloth')).type, 'init');
    sloth.socket.pause(); // never reads again: the kernel buffers fill, then the daemon's queue
    const left = new Promise<void>((resolve) =>
      b.on('event', (e) => e.type === 'leave' && e.username === 'sloth' && resolve()),
    );
    const body = 'z'.repeat(16 * 1024);
    const total = 800;
    let got = 0;
    const all = new Promise<void>((resolve) =>
      b.on('event', (e) => {
        if (e.type === 'message' && e.username === 'alice' && ++got === total) resolve();
      }),
    );
    for (let i = 0; i < total; i++) {
      a.send(body);
      if (!a.writable) await a.waitWritable();
      // The readers share this process with the daemon: let them keep up, so that only the
      // member that really stopped reading overflows its queue.
      if (i % 16 === 15) await a.waitForEchoes();
    }
    await left;
    await all;
    assert.equal(got, total);
    assert.equal(td.daemon.stats().errors.slow_reader, 1);
    await stillServed(a, b);
    await settled(td, 2);
    sloth.destroy();
  } finally {
    await closeAll(td, a, b);
  }
});

test('the per-address limit: one address is refused busy, another is still served', async () => {
  const td = await startDaemon({ chat: PW }, { limits: { maxClientsPerAddress: 3 } });
  try {
    const held: RawClient[] = [];
    for (let i = 0; i < 3; i++)
      held.push(await RawClient.connect({ port: td.port, localAddress: '127.0.0.2' }));
    const extra = await RawClient.connect({ port: td.port, localAddress: '127.0.0.2' });
    await expectHandshakeError(extra, 'busy');
    const other = await RawClient.connect({ port: td.port, localAddress: '127.0.0.3' });
    await other.handshake('chat', PW);
    assert.equal((await other.join('other')).type, 'init');
    for (const c of held) assert.equal(c.closed, false);
    for (const c of held) c.destroy();
    await settled(td, 1);
    // The address is free again.
    const again = await rawAuthenticated(td.port, 'chat', PW, '127.0.0.2');
    assert.equal((await again.join('again')).type, 'init');
    again.destroy();
    other.destroy();
    await settled(td, 0);
  } finally {
    await td.stop();
  }
});

test('unknown room and wrong password give byte-identical error frames; decoy salts are stable', async () => {
  const attempt = async (room: string, password: string): Promise<{ error: string; salt: string }> => {
    const c = await offender();
    await assert.rejects(c.handshake(room, password));
    await c.waitClosed();
    const challenge = JSON.parse(c.handshakeLines[0]!);
    return { error: c.handshakeLines[1]!, salt: challenge.salt };
  };
  const wrong = await attempt('chat', 'wrong password');
  const unknown = await attempt('nosuchroom', 'whatever');
  const unknown2 = await attempt('nosuchroom', 'something else');
  const unknown3 = await attempt('another-unknown', 'whatever');
  assert.equal(unknown.error, wrong.error);
  assert.equal(unknown2.error, wrong.error);
  assert.deepEqual(JSON.parse(wrong.error), { error: ErrorText.auth_failed, code: 'auth_failed' });
  assert.equal(unknown2.salt, unknown.salt, 'the same unknown room must get the same salt');
  assert.notEqual(unknown3.salt, unknown.salt, 'different unknown rooms must get different salts');
  // The challenge of a real room and of a decoy have the same shape.
  const real = await offender();
  real.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
  const fake = await offender();
  fake.sendJson({ cmd: 'srp_init', v: 3, room: 'nosuchroom', A: A_VALID });
  const r = await real.nextJson();
  const f = await fake.nextJson();
  assert.deepEqual(Object.keys(r).sort(), Object.keys(f).sort());
  for (const k of Object.keys(r)) {
    if (k === 'B') continue;
    assert.equal(String(r[k]).length, String(f[k]).length, k);
  }
  // B is sent without leading zero bytes (as pysrp sends it), so one B in 256, real or decoy
  // alike, is a byte shorter: both must be group elements of N's width, give or take that.
  for (const B of [r.B, f.B]) {
    const bytes = Buffer.from(String(B), 'base64').length;
    assert.ok(bytes <= N_BYTES && bytes >= N_BYTES - 8, `B of ${bytes} bytes`);
  }
  await afterEach(real, fake);
});

test('open rooms: a join race and a bogus create do not break an existing room', async () => {
  const td = await startDaemon({ chat: PW }, { openRooms: true });
  const [a, b] = await pairOn(td);
  try {
    // create with malformed salt/verifier
    const c = await RawClient.connect({ port: td.port });
    c.sendJson({ cmd: 'srp_init', v: 3, room: 'new', A: A_VALID, create: { salt: 'AAAA', verifier: '!!' } });
    await expectHandshakeError(c, 'bad_request');
    // create with a zero verifier
    const z = await RawClient.connect({ port: td.port });
    z.sendJson({
      cmd: 'srp_init',
      v: 3,
      room: 'new',
      A: A_VALID,
      create: { salt: Buffer.alloc(16).toString('base64'), verifier: Buffer.alloc(256).toString('base64') },
    });
    const zr = await z.nextJson();
    assert.ok(zr.code === 'bad_request' || typeof zr.B === 'string');
    z.destroy();
    // "create" for an existing room is ignored: the real credentials are used.
    const e = await RawClient.connect({ port: td.port });
    e.sendJson({
      cmd: 'srp_init',
      v: 3,
      room: 'chat',
      A: A_VALID,
      create: {
        salt: Buffer.alloc(16, 1).toString('base64'),
        verifier: Buffer.alloc(256, 2).toString('base64'),
      },
    });
    const er = await e.nextJson();
    assert.notEqual(er.salt, Buffer.alloc(16, 1).toString('base64'));
    e.destroy();
    await stillServed(a, b);
    await settled(td, 2);
    assert.equal(td.daemon.stats().rooms, 1);
  } finally {
    await closeAll(td, a, b);
  }
});
