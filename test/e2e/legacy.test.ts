/**
 * Legacy mode both ways: original (v1) clients in our daemon's legacy room beside v2
 * clients, and our client against an original-style daemon. The v1 peers are written from
 * the protocol description (test/helpers/v1-peer.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChatSession, SessionError } from '../../lib/client/session/session.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { joinAs, startDaemon } from '../helpers/daemon.js';
import { EventLog, isMessage } from '../helpers/events.js';
import { runClient } from '../helpers/processes.js';
import { type RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';
import { PyError, pyB64decode, V1Client, V1Server, v1Probe } from '../helpers/v1-peer.js';

async function rejection(promise: Promise<unknown>): Promise<SessionError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SessionError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

describe('our daemon in legacy mode', () => {
  test('v1 and v2 members share a legacy room: the original client decodes every field, sees UTC times, presence both ways, no IP', async () => {
    const d = await startDaemon({ chat: 'old-pw' }, { legacy: true });
    try {
      const modern = await joinAs(d, 'chat', 'old-pw', 'modern', { legacy: true });
      assert.equal(modern.mode, 'legacy-room');
      const log = new EventLog(modern);
      const old = await V1Client.connect(d.port, 'oldtimer', 'old-pw');
      // The init lists both members, in the original's shape.
      assert.equal(old.init.type, 'init');
      const users = (old.init.users as Array<{ username: string }>).map((u) => u.username).sort();
      assert.deepEqual(users, ['modern', 'oldtimer']);
      // session_key: what the original does with it (b64decode, then Fernet(key)) succeeded in
      // connect(); it is a random key, not derived from the SRP session.
      assert.equal(pyB64decode(old.verifyReply.session_key).length, 44);
      const again = await V1Client.connect(d.port, 'second', 'old-pw');
      assert.notEqual(again.verifyReply.session_key, old.verifyReply.session_key);
      await old.until(() => old.onlineNames().includes('second'), 'second on the Online line');
      again.close();
      await old.until(() => !old.onlineNames().includes('second'), 'second gone from the Online line');

      await log.waitFor((e) => e.type === 'join' && e.username === 'oldtimer', 'v1 join');
      old.say('hello from 2019');
      const ev = await log.waitFor(isMessage('hello from 2019'), 'v1 message');
      assert.ok(ev.type === 'message' && ev.username === 'oldtimer' && !ev.undecryptable);

      modern.send('hello from now');
      // The original prints str(timestamp)[:19] with "T" replaced: the UTC date and time.
      const shown = await old.waitForText('hello from now');
      const match = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) modern: hello from now$/.exec(shown);
      assert.ok(match, shown);
      assert.ok(Math.abs(Date.parse(`${match[1]!.replace(' ', 'T')}Z`) - Date.now()) < 60_000, shown);
      const relayed = old.lines.all.filter((f) => (f as { type?: string }).type === 'message');
      assert.ok(relayed.every((f) => (f as { data: { user_ip: string } }).data.user_ip === ''));
      // The v2 member reads the same ISO 8601 time.
      const mine = await log.waitFor(isMessage('hello from now'), 'echo');
      assert.ok(mine.type === 'message' && Math.abs(mine.at - Date.now()) < 60_000);
      modern.send('waves', 'me');
      await old.waitForText('* modern waves');

      old.clear();
      const cleared = await log.waitFor((e) => e.type === 'cleared', 'cleared');
      assert.ok(cleared.type === 'cleared' && cleared.by === 'oldtimer');

      // Nothing a v1 client received carries an address.
      assert.ok(!JSON.stringify(old.lines.all).includes('127.0.0.1'));
      old.close();
      await log.waitFor((e) => e.type === 'leave' && e.username === 'oldtimer', 'v1 leave');
      await modern.close();
    } finally {
      await d.stop();
    }
  });

  test('a v2 client without --legacy refuses a legacy room with an explanation', async () => {
    const d = await startDaemon({ chat: 'old-pw' }, { legacy: true });
    try {
      const err = await rejection(
        ChatSession.open({ reconnect: false, transport: d.client(), room: 'chat', password: 'old-pw' }),
      );
      assert.equal(err.code, 'refused');
      assert.equal(err.daemonCode, 'legacy_refused');
      assert.match(err.message, /legacy/);
    } finally {
      await d.stop();
    }
  });

  test('without --legacy the daemon answers a v1 client with unsupported_version and a human message', async () => {
    const d = await startDaemon({ chat: 'pw' });
    try {
      const answer = await v1Probe(d.port);
      assert.equal(answer.code, 'unsupported_version');
      assert.match(String(answer.error), /v3 only/);
      // A v1 client cannot tell this apart from any other refusal: it never got a challenge.
      await assert.rejects(V1Client.connect(d.port, 'old', 'pw'), /v3 only/);
    } finally {
      await d.stop();
    }
  });

  test('a v1 client with a wrong password is refused, and a taken name ends its connection', async () => {
    const d = await startDaemon({ chat: 'old-pw' }, { legacy: true });
    try {
      await assert.rejects(V1Client.connect(d.port, 'x', 'wrong'), /authentication failed/);
      const first = await V1Client.connect(d.port, 'same', 'old-pw');
      await assert.rejects(V1Client.connect(d.port, 'SAME', 'old-pw'), /already used/);
      first.close();
    } finally {
      await d.stop();
    }
  });

  test('every name refusal reaches the original client as the error it prints, before H_AMK', async () => {
    const d = await startDaemon({ chat: 'old-pw' }, { legacy: true, limits: { resumeGraceMs: 10_000 } });
    const raw: RawClient[] = [];
    try {
      const alice = await V1Client.connect(d.port, 'alice', 'old-pw');
      // A v2 member whose connection was lost: its name is held for its reconnect.
      const lost = await rawAuthenticated(d.port, 'chat', 'old-pw', undefined, { legacy: true });
      raw.push(lost);
      assert.equal((await lost.join('carol')).type, 'init');
      lost.destroy();
      await waitFor(() => d.daemon.stats().members === 1, 'carol gone');
      const cases: Array<[string, RegExp]> = [
        ['carol', /already used/], // held
        ['CAROL', /already used/], // held, same class
        ['aIice', /already used/], // the second name key of old
        ['\u1d00\u029f\u026a\u1d04\u1d07', /already used/], // small capitals
        ['a\u04cfice', /names are/], // Cyrillic palochka: mixed scripts
        ['alice\u{1d167}', /names are/], // a combining mark on a Latin letter
        ['bob:', /names are/],
      ];
      for (const [name, shown] of cases) {
        // The original prints "Authentication failed: <error>" for a ValueError of the handshake.
        const err = await V1Client.connect(d.port, name, 'old-pw').then(
          () => assert.fail(`${JSON.stringify(name)} was admitted`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof PyError, String(err));
        assert.equal(err.pyType, 'ValueError', `${JSON.stringify(name)}: ${err.message}`);
        assert.match(err.message, shown, JSON.stringify(name));
      }
      assert.equal(d.daemon.stats().members, 1);
      alice.close();
    } finally {
      for (const c of raw) c.destroy();
      await d.stop();
    }
  });

  test('rooms other than "chat" stay reachable by v2 clients only through --legacy consent', async () => {
    const d = await startDaemon({ chat: 'pw', other: 'pw2' }, { legacy: true });
    try {
      const s = await joinAs(d, 'other', 'pw2', 'v2user', { legacy: true });
      assert.equal(s.mode, 'legacy-room');
      await s.close();
    } finally {
      await d.stop();
    }
  });
});

describe('our client against an original daemon', () => {
  test('with --original-protocol: send, receive, history, presence, wipe, who; /nick and RTT say they are unsupported', async () => {
    const server = new V1Server('orig-pw');
    const port = await server.start();
    try {
      const peer = await V1Client.connect(port, 'pyuser', 'orig-pw');
      peer.say('before you came');
      await peer.waitForText('before you came');
      const session = await ChatSession.open({
        reconnect: false,
        transport: tcpClient({ host: '127.0.0.1', port }),
        room: 'chat',
        password: 'orig-pw',
        original: true,
        username: 'tsuser',
      });
      assert.equal(session.mode, 'v1');
      const history = await session.join('tsuser');
      assert.deepEqual(
        history.map((e) => [e.username, e.body, e.history]),
        [['pyuser', 'before you came', true]],
      );
      assert.deepEqual(
        session.memberList().map((m) => m.username),
        ['pyuser', 'tsuser'],
      );
      // The original client's srp_init exactly; the session key sent in clear is ignored.
      assert.deepEqual(Object.keys(server.inits[1]!).sort(), ['A', 'cmd', 'username']);
      const log = new EventLog(session);
      peer.say('hi ts');
      const got = await log.waitFor(isMessage('hi ts'), 'message from v1');
      assert.ok(got.type === 'message' && got.username === 'pyuser' && !got.mine);
      session.send('hi py');
      await peer.waitForText('hi py');
      await session.waitForEchoes();
      assert.equal(session.unechoedCount, 0);
      session.wipeHistory();
      await log.waitFor((e) => e.type === 'cleared', 'cleared');
      const nick = await rejection(session.nick('other'));
      assert.match(nick.message, /not supported by an original/);
      await assert.rejects(session.ping(), /not supported by an original/);
      peer.close();
      await log.waitFor((e) => e.type === 'leave' && e.username === 'pyuser', 'leave');
      await session.close();
    } finally {
      await server.stop();
    }
  });

  for (const [strict, legacy] of [
    [true, false],
    [false, false],
    [true, true],
    [false, true],
  ]) {
    test(`without --original-protocol the client refuses with the explanation (server ${strict ? 'errors on' : 'accepts'} a missing username; ${legacy ? 'with' : 'without'} --legacy)`, async () => {
      const server = new V1Server('orig-pw', strict);
      const port = await server.start();
      try {
        const err = await rejection(
          ChatSession.open({
            reconnect: false,
            transport: tcpClient({ host: '127.0.0.1', port }),
            room: 'chat',
            password: 'orig-pw',
            legacy,
            username: 'tsuser',
          }),
        );
        assert.equal(err.code, 'refused');
        assert.match(
          err.message,
          /original cmd-chat protocol \(v1\).*stripping the version.*--original-protocol/,
        );
        // No name was revealed to the v1 daemon.
        assert.equal(server.inits[0]!.username, undefined);
      } finally {
        await server.stop();
      }
    });
  }

  test('the CLI in pipe mode with --original-protocol delivers to an original daemon with a warning and exits 0; without it (even with --legacy) exits 5', async () => {
    const server = new V1Server('orig-pw');
    const port = await server.start();
    try {
      const env = { CMD_CHAT_PASSWORD: 'orig-pw' };
      for (const extra of [[], ['--legacy']]) {
        const refused = await runClient(['127.0.0.1', String(port), 'cli', ...extra], { input: 'x\n', env });
        assert.equal(refused.code, 5);
        assert.match(refused.stderr, /--original-protocol/);
      }
      assert.equal(server.history.length, 0);
      const ok = await runClient(['127.0.0.1', String(port), 'cli', '--original-protocol'], {
        input: 'one\ntwo\n',
        env,
      });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /warning: speaking the original cmd-chat protocol \(v1\): nothing is sealed/);
      assert.match(ok.stdout, /cli: one\n.*cli: two/s);
      assert.deepEqual(
        server.history.map((h) => typeof h.text),
        ['string', 'string'],
      );
    } finally {
      await server.stop();
    }
  });
});
