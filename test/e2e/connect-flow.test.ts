/**
 * The connect flow as a new user meets it, with real processes and sockets: the daemon is
 * reached (and heard from) before a password is asked, so a foreign service or a dead port
 * never costs a typed password; three tries at the prompt, as ssh gives; HOST:PORT in one
 * argument; a foreign protocol (an HTTP server, an SSH banner) is named as such, exit 8; a
 * link cut during the first handshake says so; the daemon's handshake timer running out
 * while the password is typed costs nothing (the connection is opened again); a daemon
 * restarted with another password is said to no longer accept it: the REPL asks for the new
 * one and keeps the draft, a pipe emits a JSON event and exits 4.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import { ExitCode } from '../../lib/exit-codes.js';
import {
  type Captured,
  freePort,
  jsonLines,
  runClient,
  spawnCli,
  startDaemonProcess,
} from '../helpers/processes.js';
import { startJsonReader, startPtyClient } from '../helpers/pty.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'connect-flow-password';
/** In a pty: no password from the environment, so the client asks for it. */
const ASK = { CMD_CHAT_PASSWORD: '' };

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** A TCP server that greets like OpenSSH and then waits, as an SSH daemon does. */
async function sshBanner(): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
  });
  const port = await listen(server);
  return {
    port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A forwarder to `target` that counts the connections made through it. */
async function countingProxy(target: number): Promise<{ port: number; count(): number; close(): void }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    count++;
    const upstream = tcpConnect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await listen(server);
  return {
    port,
    count: () => count,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** `cmd-chat serve 127.0.0.1 PORT …` on a given port (to restart a daemon where it was). */
async function serveOn(port: number, args: string[]): Promise<Captured> {
  const daemon = spawnCli(['serve', '127.0.0.1', String(port), ...args]);
  await waitFor(
    () => /listening on/.test(daemon.stderr()) || daemon.proc.exitCode !== null,
    'the daemon',
    20_000,
  );
  assert.match(daemon.stderr(), /listening on/);
  return daemon;
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

test('HOST:PORT is accepted as one argument', { timeout: 120_000 }, async () => {
  const daemon = await startDaemonProcess(['--password', PW]);
  try {
    const result = await runClient([`127.0.0.1:${daemon.port}`, 'zed', PW], { input: 'hello\n' });
    assert.equal(result.code, ExitCode.ok, result.stderr);
    assert.match(result.stdout, /hello/);
    const bad = await runClient([`127.0.0.1:${daemon.port}x`, 'zed', PW], { input: '' });
    assert.equal(bad.code, ExitCode.usage);
    assert.match(bad.stderr, /invalid port/);
  } finally {
    await daemon.stop();
  }
});

test('a foreign protocol (an HTTP server, an SSH banner) is not a cmd-chat daemon: exit 8, named', {
  timeout: 120_000,
}, async () => {
  const http = createHttpServer((_req, res) => res.end('ok'));
  const httpPort = await listen(http);
  const ssh = await sshBanner();
  try {
    for (const [port, answer] of [
      [httpPort, 'HTTP/1.1 400'],
      [ssh.port, 'SSH-2.0-OpenSSH_9.2p1'],
    ] as const) {
      const result = await runClient(['127.0.0.1', String(port), 'zed', PW], { input: '' });
      assert.equal(result.code, ExitCode.notCmdChat, result.stderr);
      assert.match(result.stderr, /this is not a cmd-chat daemon/);
      assert.ok(result.stderr.includes(answer), result.stderr);
      assert.doesNotMatch(result.stderr, /JSON|at .*\.js/);
    }
  } finally {
    http.closeAllConnections();
    http.close();
    ssh.close();
  }
});

test('a link cut during the first handshake says so plainly', { timeout: 120_000 }, async () => {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.destroy());
  });
  const port = await listen(server);
  try {
    const result = await runClient(['127.0.0.1', String(port), 'zed', PW], { input: '' });
    assert.equal(result.code, ExitCode.connectionLost, result.stderr);
    assert.match(result.stderr, /the connection was cut during the handshake, before the daemon answered/);
  } finally {
    server.close();
  }
});

test('REPL: nothing is asked before the daemon answers (a foreign service, a dead port)', {
  timeout: 120_000,
}, async () => {
  const ssh = await sshBanner();
  const dead = await freePort();
  try {
    const foreign = startPtyClient(ssh.port, 'zed', { env: ASK });
    assert.equal(await foreign.exited, ExitCode.notCmdChat, foreign.screen.text());
    assert.match(foreign.screen.text(), /not a cmd-chat daemon/);
    assert.doesNotMatch(foreign.raw(), /Password/);
    const nobody = startPtyClient(dead, 'zed', { env: ASK });
    assert.equal(await nobody.exited, ExitCode.cannotConnect, nobody.screen.text());
    assert.doesNotMatch(nobody.raw(), /Password/);
  } finally {
    ssh.close();
  }
});

test('REPL: three tries at the password, then exit 4', { timeout: 120_000 }, async () => {
  const daemon = await startDaemonProcess(['--password', PW]);
  const third = startPtyClient(daemon.port, 'alice', { env: ASK });
  const never = startPtyClient(daemon.port, 'bob', { env: ASK });
  try {
    const prompts = (raw: string): number => occurrences(raw, 'Password for room chat:');
    await waitFor(() => prompts(third.raw()) === 1, 'the first prompt', 20_000);
    third.write('wrong-1\r');
    await waitFor(() => prompts(third.raw()) === 2, 'the second prompt', 20_000);
    assert.match(third.screen.text(), /wrong password or no such room; try again/);
    third.write('wrong-2\r');
    await waitFor(() => prompts(third.raw()) === 3, 'the third prompt', 20_000);
    third.write(`${PW}\r`);
    await third.waitForText('-- joined #chat', 20_000);

    for (let i = 1; i <= 3; i++) {
      await waitFor(() => prompts(never.raw()) === i, `prompt ${i}`, 20_000);
      never.write(`wrong-${i}\r`);
    }
    assert.equal(await never.exited, ExitCode.authFailed, never.screen.text());
    assert.equal(prompts(never.raw()), 3);
  } finally {
    third.kill();
    never.kill();
    await daemon.stop();
  }
});

test("REPL: the daemon's handshake timer runs out while the password is typed: the connection is opened again", {
  timeout: 120_000,
}, async () => {
  const daemon = await startDaemonProcess(['--password', PW, '--handshake-timeout', '1']);
  const proxy = await countingProxy(daemon.port);
  const alice = startPtyClient(proxy.port, 'alice', { env: ASK });
  try {
    await alice.waitForText('Password for room chat:', 20_000);
    assert.equal(proxy.count(), 1, 'the connection is open before the password is asked');
    // The daemon gives a handshake 1 s; a person takes longer.
    await new Promise((r) => setTimeout(r, 2500));
    alice.write(`${PW}\r`);
    await alice.waitForText('-- joined #chat', 20_000);
    assert.equal(proxy.count(), 2, 'opened again once');
  } finally {
    alice.kill();
    proxy.close();
    await daemon.stop();
  }
});

test('a daemon restarted with another password: a --json --follow reader gets a JSON event and exits 4', {
  timeout: 120_000,
}, async () => {
  const port = await freePort();
  let daemon = await serveOn(port, ['--password', PW]);
  const reader = await startJsonReader(port, 'watcher', PW);
  try {
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    daemon = await serveOn(port, ['--password', 'another-password']);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      reader.exited,
      new Promise<'hang'>((r) => {
        timer = setTimeout(() => r('hang'), 30_000);
      }),
    ]);
    clearTimeout(timer);
    assert.equal(code, ExitCode.authFailed, reader.stderr());
    const refused = reader.events().find((e) => e.type === 'error' && e.code === 'password_refused');
    assert.ok(refused, JSON.stringify(reader.events()));
    assert.match(String(refused.message), /no longer accepts this password/);
    assert.match(reader.stderr(), /no longer accepts this password: it restarted with another one/);
  } finally {
    await reader.stop();
    daemon.proc.kill('SIGKILL');
  }
});

test('REPL: a daemon restarted with another password: said so, the new one asked, the draft kept', {
  timeout: 120_000,
}, async () => {
  const NEW = 'the-new-password';
  const port = await freePort();
  let daemon = await serveOn(port, ['--password', PW]);
  const alice = startPtyClient(port, 'alice', { password: PW });
  let reader: Awaited<ReturnType<typeof startJsonReader>> | undefined;
  try {
    await alice.waitForText('-- joined #chat', 20_000);
    alice.write('half typed');
    await alice.waitForScreen((s) => s.cursorLine().endsWith('half typed'), 'the draft');
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    daemon = await serveOn(port, ['--password', NEW]);
    await alice.waitForText('no longer accepts this password', 30_000);
    await alice.waitForText('new password for #chat', 10_000);
    alice.write(`${NEW}\r`);
    await alice.waitForText('rejoined #chat with the new password', 20_000);
    await alice.waitForScreen((s) => s.cursorLine().endsWith('half typed'), 'the draft kept');
    assert.doesNotMatch(alice.screen.text(), new RegExp(NEW), 'the password is never echoed');
    reader = await startJsonReader(port, 'watcher', NEW);
    alice.write('\r');
    assert.equal(await reader.waitForMessage('alice', 15_000), 'half typed');
    assert.equal(alice.exitCode(), undefined, 'the REPL is still running');
  } finally {
    alice.kill();
    await reader?.stop();
    daemon.proc.kill('SIGKILL');
  }
});

test('pipe mode without a password source still fails at once, before connecting', {
  timeout: 120_000,
}, async () => {
  const dead = await freePort();
  const result = await runClient(['127.0.0.1', String(dead), 'zed'], {
    input: '',
    env: { CMD_CHAT_PASSWORD: '' },
  });
  assert.equal(result.code, ExitCode.usage, result.stderr);
  assert.match(result.stderr, /no password/);
  assert.equal(jsonLines(result.stdout).length, 0);
});
