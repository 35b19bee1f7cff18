/**
 * No silent downgrade: an on-path attacker (a real TCP proxy that rewrites the handshake)
 * strips `"v"` or adds or removes `"legacy":true` between two v3 ends. The handshake fails
 * with a clear error, and a client without --original-protocol never speaks the original
 * protocol: no plaintext join, no bare message crosses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ChatSession, SessionError } from '../../lib/client/session/session.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { runClient } from '../helpers/processes.js';
import { type Rewrite, RewritingProxy } from '../helpers/rewriting-proxy.js';

const PW = 'downgrade-test-pw';

function without(key: string, when: (f: Record<string, unknown>) => boolean): Rewrite {
  return (f) => {
    if (!when(f)) return f;
    const copy = { ...f };
    delete copy[key];
    return copy;
  };
}
const isInit = (f: Record<string, unknown>): boolean => f.cmd === 'srp_init';
const isChallenge = (f: Record<string, unknown>): boolean => typeof f.B === 'string';
const addLegacy: Rewrite = (f) => (isChallenge(f) ? { ...f, legacy: true } : f);

async function through(
  d: TestDaemon,
  rewrite: { up?: Rewrite; down?: Rewrite },
  options: { legacy?: boolean } = {},
): Promise<{ proxy: RewritingProxy; outcome: ChatSession | SessionError }> {
  const proxy = await RewritingProxy.start(d.port, rewrite);
  let outcome: ChatSession | SessionError;
  try {
    const session = await ChatSession.open({
      transport: tcpClient({ host: '127.0.0.1', port: proxy.port }),
      room: 'chat',
      password: PW,
      username: 'alice',
      reconnect: false,
      ...(options.legacy ? { legacy: true } : {}),
    });
    await session.join('alice');
    outcome = session;
  } catch (err) {
    assert.ok(err instanceof SessionError, String(err));
    outcome = err;
  }
  return { proxy, outcome };
}

/** Nothing after the handshake crossed in clear: no v1 join, message or name. */
function assertNoPlaintextAfterHandshake(proxy: RewritingProxy): void {
  for (const line of proxy.up) {
    if (!line.startsWith('{')) continue;
    const frame = JSON.parse(line) as Record<string, unknown>;
    assert.ok(frame.cmd === 'srp_init' || frame.cmd === 'srp_verify', `plaintext frame crossed: ${line}`);
    assert.equal(frame.username, undefined, `a name crossed in clear: ${line}`);
  }
}

for (const legacyRoom of [false, true]) {
  describe(`an on-path attacker against ${legacyRoom ? 'serve --legacy and connect --legacy' : 'two v3 ends'}`, () => {
    let d: TestDaemon;
    before(async () => {
      d = await startDaemon({ chat: PW }, { legacy: legacyRoom });
    });
    after(() => d.stop());

    test('an honest proxy changes nothing: the handshake succeeds', async () => {
      const { proxy, outcome } = await through(d, { up: (f) => f, down: (f) => f }, { legacy: legacyRoom });
      try {
        assert.ok(outcome instanceof ChatSession, String(outcome));
        assert.equal(outcome.mode, legacyRoom ? 'legacy-room' : 'v2');
        await outcome.close();
      } finally {
        await proxy.stop();
      }
    });

    test('stripping "v" from the client\'s srp_init fails the handshake, clearly', async () => {
      const { proxy, outcome } = await through(d, { up: without('v', isInit) }, { legacy: true });
      try {
        assert.ok(outcome instanceof SessionError, 'the session was opened');
        assert.match(outcome.message, /altered on the way/);
        assertNoPlaintextAfterHandshake(proxy);
      } finally {
        await proxy.stop();
      }
    });

    test('stripping "v" from the daemon\'s challenge fails the handshake, clearly', async () => {
      const { proxy, outcome } = await through(d, { down: without('v', isChallenge) }, { legacy: true });
      try {
        assert.ok(outcome instanceof SessionError, 'the session was opened');
        assert.match(outcome.message, /original cmd-chat protocol \(v1\).*stripping the version/);
        assertNoPlaintextAfterHandshake(proxy);
        assert.equal(proxy.up.filter((l) => l.includes('srp_verify')).length, 0, 'no proof for a v1 daemon');
      } finally {
        await proxy.stop();
      }
    });

    test(`${legacyRoom ? 'removing' : 'adding'} "legacy":true in the challenge fails the handshake, clearly`, async () => {
      const down = legacyRoom ? without('legacy', isChallenge) : addLegacy;
      const { proxy, outcome } = await through(d, { down }, { legacy: true });
      try {
        assert.ok(outcome instanceof SessionError, 'the session was opened');
        assert.match(
          outcome.message,
          /altered on the way: the two ends disagree on the protocol version or the legacy flag/,
        );
        assertNoPlaintextAfterHandshake(proxy);
        // Nothing was sealed under a key the attacker chose the derivation of: no record went up.
        assert.equal(proxy.up.filter((l) => !l.startsWith('{')).length, 0);
      } finally {
        await proxy.stop();
      }
    });
  });
}

test('the CLI: connect --legacy through a proxy stripping "v" exits with the error, never in v1', async () => {
  const d = await startDaemon({ chat: PW }, { legacy: true });
  const proxy = await RewritingProxy.start(d.port, {
    up: without('v', isInit),
    down: without('v', isChallenge),
  });
  try {
    const r = await runClient(['127.0.0.1', String(proxy.port), 'alice', '--legacy'], {
      input: 'secret line\n',
      env: { CMD_CHAT_PASSWORD: PW },
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /altered on the way|stripping the version/);
    assert.ok(!proxy.up.some((l) => l.includes('secret line')));
    assertNoPlaintextAfterHandshake(proxy);
  } finally {
    await proxy.stop();
    await d.stop();
  }
});
