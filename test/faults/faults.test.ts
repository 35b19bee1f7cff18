/**
 * Promise 5, faults: a client killed mid-handshake or mid-message (the daemon recovers its
 * counters and keeps serving the others), the daemon stopped with SIGTERM under pipe-mode
 * clients (members get `shutdown`, clients exit 6 with a clear message, the daemon exits 0),
 * and the daemon killed with SIGKILL under a pipe client (it says so, exits non-zero, does
 * not hang).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import type { ChatSession } from '../../lib/client/session/session.js';
import { sealEnvelope } from '../../lib/crypto/envelope.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { joinAs, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { spawnCli, startDaemonProcess } from '../helpers/processes.js';
import { RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const PW = 'fault-password';

async function exchange(a: ChatSession, b: ChatSession, text: string): Promise<void> {
  const got = new Promise<void>((resolve) => {
    const on = (e: ChatEvent): void => {
      if (e.type === 'message' && e.body === text) {
        b.off('event', on);
        resolve();
      }
    };
    b.on('event', on);
  });
  a.send(text);
  await got;
}

async function settled(d: TestDaemon, connections: number): Promise<void> {
  await waitFor(
    () => {
      const s = d.daemon.stats();
      return s.connections === connections && s.pendingHandshakes === 0 && s.members === connections;
    },
    `stats back to ${connections}: ${JSON.stringify(d.daemon.stats())}`,
  );
}

test('a client killed mid-handshake: the daemon recovers and serves the others', async () => {
  const d = await startDaemon({ chat: PW });
  const alice = await joinAs(d, 'chat', PW, 'alice');
  const bob = await joinAs(d, 'chat', PW, 'bob');
  try {
    // Killed right after connecting, after half a srp_init line, and after the challenge.
    const c1 = await RawClient.connect({ port: d.port });
    const c2 = await RawClient.connect({ port: d.port });
    c2.write('{"cmd":"srp_init","v":3,"ro');
    const c3 = await RawClient.connect({ port: d.port });
    c3.sendJson({ cmd: 'srp_init', v: 3, room: 'chat', A: Buffer.alloc(256, 5).toString('base64') });
    assert.equal(typeof (await c3.nextJson()).B, 'string');
    await waitFor(() => d.daemon.stats().pendingHandshakes === 3, 'three pending handshakes');
    c1.socket.resetAndDestroy();
    c2.socket.resetAndDestroy();
    c3.socket.resetAndDestroy();
    await settled(d, 2);
    await exchange(alice, bob, 'after the handshake kills');
    assert.equal(d.daemon.stats().handshakesOk, 2);
  } finally {
    await alice.close();
    await bob.close();
    await d.stop();
  }
});

test('a client killed mid-message: the others see it leave, nothing else is lost', async () => {
  const d = await startDaemon({ chat: PW });
  const alice = await joinAs(d, 'chat', PW, 'alice');
  const bob = await joinAs(d, 'chat', PW, 'bob');
  try {
    const carol = await rawAuthenticated(d.port, 'chat', PW);
    assert.equal((await carol.join('carol')).type, 'init');
    const complete = carol.seal(
      JSON.stringify({
        type: 'message',
        text: sealEnvelope(carol.fernet!, { from: 'carol', kind: 'text', body: 'whole' }),
      }),
    );
    const half = carol.seal(JSON.stringify({ type: 'message', text: 'never finished' }));
    const seen: string[] = [];
    bob.on('event', (e) => {
      if (e.type === 'message' && e.username === 'carol') seen.push(e.body);
    });
    const left = new Promise<void>((resolve) =>
      bob.on('event', (e) => e.type === 'leave' && e.username === 'carol' && resolve()),
    );
    carol.write(Buffer.concat([complete, half.subarray(0, Math.floor(half.length / 2))]));
    await waitFor(() => seen.length === 1, 'the complete message');
    carol.socket.resetAndDestroy();
    await left;
    await settled(d, 2);
    await exchange(bob, alice, 'after the message kill');
    assert.deepEqual(seen, ['whole']);
  } finally {
    await alice.close();
    await bob.close();
    await d.stop();
  }
});

interface Client {
  proc: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
}

function pipeClient(port: number, name: string, args: string[] = []): Client {
  const c = spawnCli(['connect', '127.0.0.1', String(port), name, ...args], { CMD_CHAT_PASSWORD: PW });
  return { proc: c.proc, out: c.stdout, err: c.stderr, exited: c.exited };
}

async function exitWithin(c: Client, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    c.exited,
    new Promise<'hang'>((resolve) => {
      timer = setTimeout(() => resolve('hang'), ms);
    }),
  ]);
  clearTimeout(timer);
  if (code === 'hang') {
    c.proc.kill('SIGKILL');
    throw new Error(`the client hung\nstdout:${c.out()}\nstderr:${c.err()}`);
  }
  return code;
}

test('SIGTERM with --no-reconnect: members get shutdown, pipe clients exit 6 with a clear message, the daemon exits 0', async () => {
  const daemon = await startDaemonProcess(['--password', PW]);
  const clients: Client[] = [];
  try {
    // --history too: alice may speak before bob has joined.
    const bob = pipeClient(daemon.port, 'bob', ['--follow', '--history', '--no-reconnect']);
    clients.push(bob);
    bob.proc.stdin!.end();
    const alice = pipeClient(daemon.port, 'alice', ['--follow', '--no-reconnect']);
    clients.push(alice);
    alice.proc.stdin!.end('hello before the end\n');
    await waitFor(
      () => /hello before the end/.test(bob.out()),
      `bob to get the message: ${bob.err()}`,
      30_000,
    );
    await waitFor(() => /hello before the end/.test(alice.out()), 'alice to get her echo', 30_000);
    assert.equal(await daemon.stop('SIGTERM'), 0);
    for (const c of [alice, bob]) {
      assert.equal(await exitWithin(c, 20_000), ExitCode.connectionLost, c.err());
      assert.match(c.err(), /shut(ting)? down/i);
    }
    assert.match(daemon.stderr(), /keys zeroed/);
  } finally {
    for (const c of clients) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await daemon.stop('SIGKILL');
  }
});

test('the daemon killed (SIGKILL) under a pipe client with --no-reconnect: it says so and exits non-zero, no hang', async () => {
  const daemon = await startDaemonProcess(['--password', PW]);
  const bob = pipeClient(daemon.port, 'bob', ['--follow', '--no-reconnect']);
  try {
    bob.proc.stdin!.end('bob is here\n');
    await waitFor(() => /bob is here/.test(bob.out()), `bob's echo: ${bob.err()}`, 30_000);
    await daemon.stop('SIGKILL');
    const code = await exitWithin(bob, 20_000);
    assert.notEqual(code, 0);
    assert.equal(code, ExitCode.connectionLost);
    assert.match(bob.err(), /closed|lost|connection/i);
  } finally {
    if (bob.proc.exitCode === null) bob.proc.kill('SIGKILL');
  }
});

test('the daemon killed while a pipe client with --no-reconnect is still sending: non-zero exit, no hang', async () => {
  const daemon = await startDaemonProcess(['--password', PW]);
  const bob = pipeClient(daemon.port, 'bob', ['--no-reconnect']);
  try {
    bob.proc.stdin!.write('first\n');
    await waitFor(() => /first/.test(bob.out()), `bob's echo: ${bob.err()}`, 30_000);
    await daemon.stop('SIGKILL');
    bob.proc.stdin!.write('second\n'); // stdin stays open: the client must notice the loss itself
    const code = await exitWithin(bob, 20_000);
    assert.equal(code, ExitCode.connectionLost, bob.err());
    assert.ok(bob.err().trim().length > 0, 'a message on stderr');
  } finally {
    if (bob.proc.exitCode === null) bob.proc.kill('SIGKILL');
  }
});
