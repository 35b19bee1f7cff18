/**
 * The room bus against a real nats-server (one per test, on a free port): events cross
 * between daemons' buses of the same cluster secret and nowhere else; NATS credentials
 * (user and password, nkey) are used and a wrong one is a clear error; an operator
 * subscribed to everything sees no room name, user name or message; replayed or moved
 * payloads are dropped; the bus survives the server restarting and says so in the log.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { createUser } from '@nats-io/nkeys';
import { connect, type Msg } from '@nats-io/transport-node';
import { type BusEvent, NatsRoomBus } from '../../lib/cluster/bus.js';
import type { ClusterConnectOptions } from '../../lib/cluster/connection.js';
import { type ClusterKeys, deriveClusterKeys, roomSubject } from '../../lib/cluster/keys.js';
import type { Logger } from '../../lib/server/log.js';
import { introduced } from '../helpers/bus-peers.js';
import { type NatsServer, skipWithoutNats, startNatsServer } from '../helpers/nats.js';
import { waitFor } from '../helpers/raw-client.js';

const USER = 'daemons';
const PASS = randomBytes(12).toString('hex');
// A generous authentication timeout (2 s by default): a starved machine once hit it.
const AUTH = `authorization { user: ${USER}, password: "${PASS}", timeout: 10 }`;

/** A logger that keeps its lines, for "the log says so" assertions. */
function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { verbose: false, lines, info: (m) => lines.push(m), detail: (m) => lines.push(m) };
}

/** Collects what a bus hands to a room's handler. */
function inbox(): { events: BusEvent[]; handler: (e: BusEvent) => void } {
  const events: BusEvent[] = [];
  return { events, handler: (e) => events.push(e) };
}

/**
 * A bus on `server`, closed when the test ends even if the test fails before its own cleanup
 * (an open connection reconnects for ever and would keep the test file from ending).
 */
async function bus(
  t: TestContext,
  server: NatsServer,
  keys: ClusterKeys,
  extra: Partial<ClusterConnectOptions> = {},
  log: Logger = memoryLog(),
): Promise<NatsRoomBus> {
  const b = await NatsRoomBus.connect(
    { servers: [server.url], user: USER, password: PASS, reconnectWaitMs: 100, ...extra },
    keys,
    log,
  );
  t.after(() => b.close());
  return b;
}

/** A nats-server stopped when the test ends, whatever happens before. */
async function natsFor(t: TestContext, config: string): Promise<NatsServer> {
  const server = await startNatsServer({ config });
  t.after(() => server.stop());
  return server;
}

test('events cross between buses of one cluster, per room, and not to another cluster', async (t) => {
  if (skipWithoutNats(t)) return;
  const server = await natsFor(t, AUTH);
  const keys = deriveClusterKeys(randomBytes(32));
  const [a, b, c] = await Promise.all([bus(t, server, keys), bus(t, server, keys), bus(t, server, keys)]);
  const stranger = await bus(t, server, deriveClusterKeys(randomBytes(32)));
  await introduced(a, b, c);
  try {
    const bGeneral = inbox();
    const bOther = inbox();
    const cGeneral = inbox();
    const aGeneral = inbox();
    const strangerGeneral = inbox();
    b.subscribeRoom('general', bGeneral.handler);
    b.subscribeRoom('other', bOther.handler);
    c.subscribeRoom('general', cGeneral.handler);
    a.subscribeRoom('general', aGeneral.handler);
    stranger.subscribeRoom('general', strangerGeneral.handler);
    await Promise.all([a.flush(), b.flush(), c.flush(), stranger.flush()]);
    for (let i = 1; i <= 50; i++) a.publish('general', { type: 'message', n: i });
    a.publish('other', { type: 'message', n: 0 });
    await a.flush();
    await waitFor(() => bGeneral.events.length === 50 && cGeneral.events.length === 50, 'the events');
    const order = (events: BusEvent[]): unknown[] => events.map((e) => e.n);
    assert.deepEqual(order(bGeneral.events), order(cGeneral.events), 'the same order for every daemon');
    assert.deepEqual(
      order(bGeneral.events),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    await waitFor(() => bOther.events.length === 1, 'the other room');
    await b.flush();
    assert.deepEqual(aGeneral.events, [], 'a daemon does not hear itself');
    assert.deepEqual(strangerGeneral.events, [], 'another cluster secret hears nothing');
    stranger.publish('general', { type: 'message', n: 99 });
    await stranger.flush();
    await b.flush();
    assert.equal(bGeneral.events.length, 50);
    // Unsubscribed: nothing more arrives.
    b.unsubscribeRoom('general');
    await b.flush();
    a.publish('general', { type: 'message', n: 51 });
    await waitFor(() => cGeneral.events.length === 51, 'the event after unsubscribing');
    await b.flush();
    assert.equal(bGeneral.events.length, 50);
    assert.equal(a.stats.published, 52);
  } finally {
    await Promise.all([a.close(), b.close(), c.close(), stranger.close()]);
    await server.stop();
  }
});

test("a NATS operator's view: only hashed subjects and sealed payloads; replays are dropped", async (t) => {
  if (skipWithoutNats(t)) return;
  const server = await natsFor(t, AUTH);
  const keys = deriveClusterKeys(randomBytes(32));
  const [a, b] = await Promise.all([bus(t, server, keys), bus(t, server, keys)]);
  await introduced(a, b);
  const operator = await connect({ servers: server.url, user: USER, pass: PASS });
  t.after(() => operator.close());
  const seen: Msg[] = [];
  operator.subscribe('>', {
    callback: (_err, msg) => {
      seen.push(msg);
    },
  });
  await operator.flush();
  try {
    const got = inbox();
    const control = inbox();
    b.subscribeRoom('secret-room-name', got.handler);
    b.subscribeControl(control.handler);
    await b.flush();
    const secrets = ['secret-room-name', 'alice-the-user', 'plaintext-marker', 'u-1234abcd'];
    a.publish('secret-room-name', {
      type: 'user_joined',
      user_id: 'u-1234abcd',
      username: 'alice-the-user',
    });
    a.publish('secret-room-name', { type: 'message', text: 'plaintext-marker' });
    a.publishControl({ type: 'rooms', rooms: ['secret-room-name'] });
    await a.flush();
    await waitFor(() => got.events.length === 2 && control.events.length === 1, 'the events');
    await waitFor(() => seen.length >= 3, 'the operator to see the traffic');
    for (const msg of seen) {
      assert.match(msg.subject, /^cc\.[0-9a-f]{32}$/);
      const raw = Buffer.from(msg.data);
      for (const s of secrets) {
        for (const form of [s, Buffer.from(s).toString('base64'), Buffer.from(s).toString('hex')]) {
          assert.ok(!raw.includes(form), `the operator saw ${s}`);
          assert.ok(!msg.subject.includes(form));
        }
      }
      assert.equal(msg.headers, undefined, 'no headers');
    }
    // The operator replays every payload, and moves one to another subject: all dropped.
    const roomMsgs = seen.filter((m) => m.subject === roomSubject(keys, 'secret-room-name'));
    assert.equal(roomMsgs.length, 2);
    const rejectedBefore = b.stats.rejected;
    for (const msg of roomMsgs) operator.publish(msg.subject, msg.data);
    operator.publish(roomSubject(keys, 'secret-room-name'), new Uint8Array(64));
    await operator.flush();
    a.publish('secret-room-name', { type: 'message', text: 'after the replay' });
    await a.flush();
    await waitFor(() => got.events.length === 3, 'the genuine event after the replays');
    assert.equal(got.events[2]!.text, 'after the replay');
    assert.equal(b.stats.rejected - rejectedBefore, 3);

    // A daemon started later, whatever the payloads' age and whatever its clock: the replays
    // of what was sent before it came are dropped, and what is sent after reaches it.
    const late = await bus(t, server, keys);
    try {
      await introduced(a, late);
      const lateGot = inbox();
      late.subscribeRoom('secret-room-name', lateGot.handler);
      await late.flush();
      for (const msg of roomMsgs) operator.publish(msg.subject, msg.data);
      await operator.flush();
      a.publish('secret-room-name', { type: 'message', text: 'for the late one' });
      await a.flush();
      await waitFor(() => lateGot.events.length === 1, 'the genuine event at the late bus');
      assert.equal(lateGot.events[0]!.text, 'for the late one');
      assert.equal(late.stats.rejected, 2);
    } finally {
      await late.close();
    }
  } finally {
    await operator.close();
    await Promise.all([a.close(), b.close()]);
    await server.stop();
  }
});

test('NATS credentials: an nkey works; a wrong password is a clear error without the password', async (t) => {
  if (skipWithoutNats(t)) return;
  const user = createUser();
  const server = await natsFor(
    t,
    `authorization { users = [ { user: ${USER}, password: "${PASS}" }, { nkey: ${user.getPublicKey()} } ] }`,
  );
  const keys = deriveClusterKeys(randomBytes(32));
  try {
    const withNkey = await NatsRoomBus.connect(
      { servers: [server.url], nkeySeed: user.getSeed() },
      keys,
      memoryLog(),
    );
    t.after(() => withNkey.close());
    const withPassword = await bus(t, server, keys);
    await introduced(withNkey, withPassword);
    const got = inbox();
    withPassword.subscribeRoom('r', got.handler);
    await withPassword.flush();
    withNkey.publish('r', { type: 'ping' });
    await waitFor(() => got.events.length === 1, 'the event from the nkey connection');
    await Promise.all([withNkey.close(), withPassword.close()]);
    const wrong = 'wrong-password-value';
    await assert.rejects(
      NatsRoomBus.connect({ servers: [server.url], user: USER, password: wrong }, keys, memoryLog()),
      (err: Error) => /authorization/i.test(err.message) && !err.message.includes(wrong),
    );
  } finally {
    await server.stop();
  }
});

test('the bus survives nats-server restarting: the log says so, and events flow again', async (t) => {
  if (skipWithoutNats(t)) return;
  const server = await natsFor(t, AUTH);
  const keys = deriveClusterKeys(randomBytes(32));
  const logA = memoryLog();
  const logB = memoryLog();
  const a = await bus(t, server, keys, {}, logA);
  const b = await bus(t, server, keys, {}, logB);
  await introduced(a, b);
  const states: string[] = [];
  b.onState((s) => states.push(s));
  try {
    const got = inbox();
    b.subscribeRoom('r', got.handler);
    await b.flush();
    a.publish('r', { n: 1 });
    await waitFor(() => got.events.length === 1, 'the first event');
    await server.stop('SIGKILL');
    await waitFor(() => states.includes('down'), 'the bus to notice the server is gone');
    assert.ok(logB.lines.some((l) => /lost the NATS server; serving local members only/.test(l)));
    await server.restart();
    await waitFor(() => states.includes('up'), 'the bus to reconnect', 20_000);
    await waitFor(() => logA.lines.some((l) => /NATS server back/.test(l)), 'the other bus to reconnect');
    assert.ok(logB.lines.some((l) => /NATS server back/.test(l)));
    // Both logged the same key id: they share the cluster secret.
    const keyId = `cluster: cluster key id ${keys.keyId}`;
    assert.ok(logA.lines.includes(keyId) && logB.lines.includes(keyId));
    assert.match(keys.keyId, /^[0-9a-f]{8}$/);
    await b.flush();
    a.publish('r', { n: 2 });
    await waitFor(() => got.events.some((e) => e.n === 2), 'an event after the restart');
    for (const line of [...logA.lines, ...logB.lines]) {
      assert.ok(!line.includes(PASS) && !line.includes(String(server.port)), `log line leaks: ${line}`);
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server.stop();
  }
});
