/**
 * Strangers against a real daemon over raw TCP: per-source handshake rates and back-off after
 * failed proofs (one source cannot slow another), the pending table making way for new
 * clients, the behind-proxy mode, and open rooms (creation caps, daemon-wide history bound,
 * a handshake bound to the room it proved, emptied names reserved). Sources are told apart
 * by connecting from different loopback addresses (127.0.0.x).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { modPowBigInt } from '../../lib/crypto/srp.js';
import { sourceKey } from '../../lib/server/admission.js';
import { parseProxyHeader } from '../../lib/transport/proxy-protocol.js';
import { joinAs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startDaemonProcess } from '../helpers/processes.js';
import { deriveAhead, RawClient, waitFor } from '../helpers/raw-client.js';

const PW = 'admission-pw';
const A_VALID = modPowBigInt(Buffer.from([2]), Buffer.alloc(32, 7)).toString('base64');

/** Opens `n` connections from `local` and sends srp_init on each (no proof follows). */
async function strangers(port: number, local: string, n: number, room = 'chat'): Promise<RawClient[]> {
  const out: RawClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await RawClient.connect({ port, localAddress: local });
    c.sendJson({ cmd: 'srp_init', v: 3, room, A: A_VALID });
    out.push(c);
  }
  return out;
}

const challenged = (cs: RawClient[]): number => cs.filter((c) => c.rawReceived.includes('"B"')).length;

/** A full handshake from `local`; resolves to the client, or rejects with the daemon's error. */
async function handshakeFrom(
  td: TestDaemon | number,
  local: string,
  room: string,
  password: string,
  options: { create?: boolean; beforeVerify?: () => Promise<void> } = {},
): Promise<RawClient> {
  const port = typeof td === 'number' ? td : td.port;
  const c = await RawClient.connect({ port, localAddress: local });
  try {
    await c.handshake(room, password, options);
  } catch (err) {
    c.destroy();
    throw err;
  }
  return c;
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code, String(err));
    return true;
  });
}

describe('sources', () => {
  test('a source key is the IPv4 address or the IPv6 /64; behind a proxy there is none', () => {
    assert.equal(sourceKey('192.0.2.7', false), '192.0.2.7');
    assert.equal(sourceKey('::ffff:192.0.2.7', false), '192.0.2.7');
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1', false), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8:1:2:ffff:1:2:3', false), '2001:db8:1:2::/64');
    assert.notEqual(sourceKey('2001:db8:1:3::1', false), sourceKey('2001:db8:1:2::1', false));
    assert.equal(sourceKey('fe80::1%eth0', false), 'fe80:0:0:0::/64');
    assert.equal(sourceKey('unix', false), 'unix');
    assert.equal(sourceKey('192.0.2.7', true), undefined);
  });

  test('one source flooding srp_init gets its rate; another source is served at once', async () => {
    const td = await startDaemon(
      { chat: PW },
      { limits: { handshakeRatePerSource: 2, handshakeBurstPerSource: 4 } },
    );
    try {
      const started = performance.now();
      const flood = await strangers(td.port, '127.0.0.2', 24);
      const t0 = performance.now();
      const other = await handshakeFrom(td, '127.0.0.3', 'chat', PW);
      const otherMs = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 300));
      // The burst, plus at most a token or two of the rate, in the time it took.
      // Tokens refill from the first srp_init on: count the whole time, plus a little slack.
      const seconds = (performance.now() - started) / 1000 + 0.5;
      assert.ok(
        challenged(flood) <= 4 + Math.ceil(2 * seconds),
        `${challenged(flood)} challenges for one source`,
      );
      assert.ok(challenged(flood) >= 4);
      // The rest wait in their queue, unanswered but not refused.
      assert.ok(flood.every((c) => !c.closed));
      assert.ok(otherMs < 5000, `the other source waited ${otherMs} ms`);
      other.destroy();
      for (const c of flood) c.destroy();
    } finally {
      await td.stop();
    }
  });

  test('failed proofs back a source off (doubling), others are unaffected', async () => {
    // The handshake limit (1.5 s, under the 2 s back-off) also times the client's scrypt, which
    // a loaded machine can stretch past it: the keys are derived before.
    await Promise.all(['wrong-1', 'wrong-2', 'wrong-3', PW].map((pw) => deriveAhead('chat', pw)));
    const td = await startDaemon(
      { chat: PW },
      { limits: { failuresBeforeBackoff: 1, handshakeTimeoutMs: 1500 } },
    );
    try {
      // Two wrong passwords: the second failure backs 127.0.0.4 off for 1 s.
      await rejectsCode(handshakeFrom(td, '127.0.0.4', 'chat', 'wrong-1'), 'auth_failed');
      await rejectsCode(handshakeFrom(td, '127.0.0.4', 'chat', 'wrong-2'), 'auth_failed');
      const failedAt = performance.now();
      // Within the back-off, a challenge to that source waits; another source is answered.
      const [waiting] = await strangers(td.port, '127.0.0.4', 1);
      const [served] = await strangers(td.port, '127.0.0.5', 1);
      await waitFor(() => challenged([served!]) === 1, 'the other source to be challenged');
      // (Only meaningful while the 1 s back-off lasts: a stalled machine may take longer.)
      if (performance.now() - failedAt < 800) assert.equal(challenged([waiting!]), 0);
      await waitFor(() => challenged([waiting!]) === 1, 'the back-off to end');
      waiting!.destroy();
      served!.destroy();
      // A third failure doubles it to 2 s, longer than the handshake may take: refused at once.
      await rejectsCode(handshakeFrom(td, '127.0.0.4', 'chat', 'wrong-3'), 'auth_failed');
      const [refused] = await strangers(td.port, '127.0.0.4', 1);
      // (Had it waited out the back-off instead, it would have got a challenge, not this.)
      await refused!.waitClosed();
      assert.match(refused!.rawReceived, /"code":"rate_limited"/);
      // The right password from elsewhere is not held back.
      const ok = await handshakeFrom(td, '127.0.0.5', 'chat', PW);
      ok.destroy();
    } finally {
      await td.stop();
    }
  });

  test('--verbose logs the address of a failed proof', async () => {
    const d = await startDaemonProcess(['--password', PW, '--verbose']);
    try {
      await rejectsCode(handshakeFrom(d.port, '127.0.0.9', 'chat', 'wrong'), 'auth_failed');
      await waitFor(() => d.stderr().includes('failed proof from 127.0.0.9'), 'the log line');
    } finally {
      await d.stop();
    }
  });
});

describe('pending handshakes', () => {
  test('idle sockets filling the table do not lock a new client out', async () => {
    const td = await startDaemon({ chat: PW }, { limits: { maxPendingHandshakes: 8 } });
    try {
      const idle: RawClient[] = [];
      for (let i = 0; i < 8; i++)
        idle.push(await RawClient.connect({ port: td.port, localAddress: '127.0.0.6' }));
      await waitFor(() => td.daemon.stats().pendingHandshakes === 8, 'the table to fill');
      const member = await joinAs(td, 'chat', PW, 'newcomer');
      await waitFor(() => idle[0]!.closed, 'the oldest idle socket to be evicted');
      assert.match(idle[0]!.rawReceived, /"code":"busy"/);
      await member.close();
      for (const c of idle) c.destroy();
    } finally {
      await td.stop();
    }
  });

  test("a source filling the pending table loses its own oldest handshake, not another source's", async () => {
    const td = await startDaemon({ chat: PW }, { limits: { maxPendingHandshakes: 8 } });
    try {
      const slow = await RawClient.connect({ port: td.port, localAddress: '127.0.0.20' });
      const idle: RawClient[] = [];
      for (let i = 0; i < 7; i++)
        idle.push(await RawClient.connect({ port: td.port, localAddress: '127.0.0.21' }));
      await waitFor(() => td.daemon.stats().pendingHandshakes === 8, 'the table to fill');
      const next = await RawClient.connect({ port: td.port, localAddress: '127.0.0.22' });
      await waitFor(() => idle[0]!.closed, "the filling source's oldest to be evicted");
      assert.ok(!slow.closed, 'the oldest handshake of all, from another source, stays');
      assert.ok(!next.closed);
      for (const c of [slow, next, ...idle]) c.destroy();
    } finally {
      await td.stop();
    }
  });

  test('behind a proxy, one address is not a limit: many idle sockets and fast handshakes', async () => {
    const td = await startDaemon(
      { chat: PW },
      {
        behindProxy: true,
        limits: { maxClientsPerAddress: 4, handshakeRatePerSource: 1, handshakeBurstPerSource: 1 },
      },
    );
    try {
      const idle: RawClient[] = [];
      for (let i = 0; i < 12; i++) idle.push(await RawClient.connect({ port: td.port }));
      const flood = await strangers(td.port, '127.0.0.1', 8);
      await waitFor(() => challenged(flood) === 8, 'every handshake to be answered');
      const member = await joinAs(td, 'chat', PW, 'via-tor');
      assert.ok(idle.every((c) => !c.closed));
      await member.close();
      for (const c of [...idle, ...flood]) c.destroy();
    } finally {
      await td.stop();
    }
  });
});

test('serve --behind-proxy: more idle sockets from 127.0.0.1 than --max-per-address, and a client still joins', async () => {
  const d = await startDaemonProcess(['--password', PW, '--behind-proxy', '--max-per-address', '2']);
  try {
    // The start-up lines may reach us in more than one chunk after "listening on".
    await waitFor(() => /behind a proxy: no limit keyed by address/.test(d.stderr()), 'the proxy line');
    const idle: RawClient[] = [];
    for (let i = 0; i < 6; i++) idle.push(await RawClient.connect({ port: d.port }));
    const c = await handshakeFrom(d.port, '127.0.0.1', 'chat', PW);
    assert.ok(idle.every((s) => !s.closed));
    for (const s of [c, ...idle]) s.destroy();
  } finally {
    await d.stop();
  }
});

describe('serve --proxy-protocol (Tor: HiddenServiceExportCircuitID haproxy)', () => {
  const circuit = (id: number): string =>
    `PROXY TCP6 fc00:dead:beef:4dad::${id.toString(16)} ::1 65535 42\r\n`;

  test('the header is parsed strictly, and Tor circuits are sources of their own', () => {
    assert.equal(parseProxyHeader('PROXY TCP4 198.51.100.7 127.0.0.1 40000 3000'), '198.51.100.7');
    assert.equal(
      parseProxyHeader('PROXY TCP6 fc00:dead:beef:4dad::5 ::1 65535 42'),
      'fc00:dead:beef:4dad::5',
    );
    assert.equal(parseProxyHeader('PROXY UNKNOWN'), 'unknown');
    for (const bad of [
      'PROXY TCP4 1.2.3.4 1.2.3.4 1 99999',
      'PROXY TCP4 ::1 ::1 1 2',
      'proxy TCP4 1.2.3.4 1.2.3.4 1 2',
      '{"cmd":"srp_init"}',
    ]) {
      assert.equal(parseProxyHeader(bad), undefined, bad);
    }
    assert.equal(sourceKey('fc00:dead:beef:4dad::5', false), 'tor-circuit-5');
    assert.equal(sourceKey('fc00:dead:beef:4dad::1:0', false), 'tor-circuit-65536');
  });

  test('limits count per circuit; a connection without a header is dropped', async () => {
    const d = await startDaemonProcess(['--password', PW, '--proxy-protocol', '--max-per-address', '2']);
    try {
      const held: RawClient[] = [];
      for (let i = 0; i < 2; i++) {
        const c = await RawClient.connect({ port: d.port });
        c.write(circuit(5));
        held.push(c);
      }
      // A third connection on circuit 5 is over its limit; circuit 6 joins.
      const third = await RawClient.connect({ port: d.port });
      third.write(circuit(5));
      await third.waitClosed(5000);
      assert.match(third.rawReceived, /"code":"busy"/);
      const other = await RawClient.connect({ port: d.port });
      other.write(circuit(6));
      await other.handshake('chat', PW);
      assert.equal((await other.join('via-circuit-6')).type, 'init');
      // No header: nothing is answered, the connection is dropped.
      const bare = await RawClient.connect({ port: d.port });
      bare.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: A_VALID });
      await bare.waitClosed(8000);
      assert.equal(bare.rawReceived, '');
      for (const c of [...held, other]) c.destroy();
    } finally {
      await d.stop();
    }
  });
});

describe('open rooms', () => {
  test('creations are capped per source', async () => {
    const td = await startDaemon({}, { openRooms: true, limits: { maxRoomsPerSource: 2 } });
    try {
      const made: RawClient[] = [];
      made.push(await handshakeFrom(td, '127.0.0.7', 'r1', 'pw', { create: true }));
      made.push(await handshakeFrom(td, '127.0.0.7', 'r2', 'pw', { create: true }));
      await rejectsCode(handshakeFrom(td, '127.0.0.7', 'r3', 'pw', { create: true }), 'busy');
      made.push(await handshakeFrom(td, '127.0.0.8', 'r3', 'pw', { create: true }));
      assert.equal(td.registry.size, 3);
      for (const c of made) c.destroy();
    } finally {
      await td.stop();
    }
  });

  test('all histories together stay within the daemon-wide bound, the largest losing first', async () => {
    const td = await startDaemon(
      { small: 'pw', big: 'pw' },
      { limits: { historyTotalBytes: 40_000, historySize: 200 } },
    );
    try {
      const s = await joinAs(td, 'small', 'pw', 's');
      const b = await joinAs(td, 'big', 'pw', 'b');
      for (let i = 0; i < 5; i++) s.send(`small ${i} ${'x'.repeat(500)}`);
      for (let i = 0; i < 60; i++) b.send(`big ${i} ${'y'.repeat(1500)}`);
      await s.waitForEchoes();
      await b.waitForEchoes();
      const lateS = await joinAs(td, 'small', 'pw', 'late-s');
      const lateB = await joinAs(td, 'big', 'pw', 'late-b');
      const { ChatSession } = await import('../../lib/client/session/session.js');
      const hs = await (
        await ChatSession.open({ reconnect: false, transport: td.client(), room: 'small', password: 'pw' })
      ).join('late-s2');
      const hb = await (
        await ChatSession.open({ reconnect: false, transport: td.client(), room: 'big', password: 'pw' })
      ).join('late-b2');
      assert.equal(hs.length, 5, 'the small room kept its history');
      assert.ok(hb.length < 30, `the big room kept ${hb.length} of 60 (each ~2 kB of ciphertext)`);
      assert.ok(hb.length > 5);
      for (const x of [s, b, lateS, lateB]) await x.close();
    } finally {
      await td.stop();
    }
  });

  test('a client is admitted only to the room whose password it proved', async () => {
    const td = await startDaemon({}, { openRooms: true, limits: { openRoomGraceMs: 0 } });
    try {
      const first = await handshakeFrom(td, '127.0.0.10', 'swap', 'first-pw', { create: true });
      let second: RawClient | undefined;
      // The victim proves first-pw, but its proof arrives after the room emptied and was
      // re-created by someone else with another password.
      const victim = handshakeFrom(td, '127.0.0.11', 'swap', 'first-pw', {
        beforeVerify: async () => {
          first.destroy();
          await waitFor(() => td.registry.size === 0, 'the room to go');
          second = await handshakeFrom(td, '127.0.0.12', 'swap', 'second-pw', { create: true });
        },
      });
      await rejectsCode(victim, 'auth_failed');
      assert.equal(td.registry.size, 1);
      second?.destroy();
    } finally {
      await td.stop();
    }
  });
});
