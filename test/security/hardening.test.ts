/**
 * Hostile input from a daemon and from members, on real processes and sockets: error codes
 * that name inherited properties, names that would forge log lines, pings on a session
 * that ended.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { ChatSession } from '../../lib/client/session/session.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { runClient, startDaemonProcess } from '../helpers/processes.js';
import { RawClient, waitFor } from '../helpers/raw-client.js';
import { initFor, startScriptedDaemon } from '../helpers/scripted-daemon.js';

for (const code of ['toString', '__proto__', 'constructor']) {
  test(`a daemon's error code "${code}" gives a pipe client a one-line error, not a crash`, async () => {
    const daemon = await startScriptedDaemon('pw', (frame, peer) => {
      if (frame.type === 'join') peer.send(initFor(String(frame.username)));
      if (frame.type === 'message') {
        peer.send({ type: 'error', code, message: 'x' });
        setTimeout(() => peer.destroy(), 100);
      }
    });
    try {
      const r = await runClient(['127.0.0.1', String(daemon.port), 'alice'], {
        input: 'hello\n',
        env: { CMD_CHAT_PASSWORD: 'pw' },
      });
      assert.doesNotMatch(r.stderr, /\n\s+at |TypeError|\[native code\]|function /, r.stderr);
      assert.match(r.stdout, new RegExp(`! the daemon reported an error \\(${code}\\)`), r.stdout);
      assert.notEqual(r.code, 1, r.stderr);
    } finally {
      await daemon.stop();
    }
  });
}

test('a handshake error with code "toString" is a one-line refusal', async () => {
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.end(`${JSON.stringify({ error: 'no', code: 'toString' })}\n`));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const port = (server.address() as net.AddressInfo).port;
    const r = await runClient(['127.0.0.1', String(port), 'alice'], {
      input: '',
      env: { CMD_CHAT_PASSWORD: 'pw' },
    });
    assert.doesNotMatch(r.stderr, /\n\s+at |native code|function /, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.notEqual(r.code, 1, r.stderr);
  } finally {
    server.close();
  }
});

test('pending pings are rejected as soon as the session ends', async () => {
  const daemon = await startScriptedDaemon('pw', (frame, peer) => {
    if (frame.type === 'join') peer.send(initFor(String(frame.username)));
    // A ping is never answered: the connection drops instead.
    if (frame.type === 'ping') setTimeout(() => peer.destroy(), 50);
  });
  try {
    const session = await ChatSession.open({
      reconnect: false,
      transport: tcpClient({ host: '127.0.0.1', port: daemon.port }),
      room: 'chat',
      password: 'pw',
    });
    await session.join('alice');
    const started = Date.now();
    // Far below the ping's own 10 s timer: the end of the session settles it.
    await assert.rejects(
      session.ping(10_000),
      (err: Error & { code?: string }) => err.code === 'connection_lost',
    );
    assert.ok(Date.now() - started < 5_000, `rejected after ${Date.now() - started} ms`);
    await assert.rejects(session.ping(10_000), /closed/);
  } finally {
    await daemon.stop();
  }
});

test('--verbose logs normalised, escaped names: a name cannot forge a log line', async () => {
  const d = await startDaemonProcess(['--password', 'pw', '--verbose']);
  try {
    const raw = await RawClient.connect({ port: d.port });
    await raw.handshake('chat', 'pw');
    // Trimmed to "12:00:00 cmd-chat: forged", which the name rules refuse (spaces, colons).
    const refused = await raw.join('\r\n12:00:00 cmd-chat: forged');
    assert.equal(refused.type, 'error');
    const init = await raw.join('\r\n12.00.00\u00b7cmd-chat\u00b7forged');
    assert.equal(init.type, 'init');
    await waitFor(() => /joined room/.test(d.stderr()), 'the join line');
    const lines = d.stderr().split(/[\r\n]/);
    assert.ok(!lines.some((l) => l.startsWith('12:00:00 cmd-chat: forged')), d.stderr());
    assert.ok(!lines.some((l) => l.startsWith('12.00.00')), d.stderr());
    assert.match(d.stderr(), /"12\.00\.00·cmd-chat·forged" joined room "chat"/);
    raw.destroy();
  } finally {
    await d.stop();
  }
});
