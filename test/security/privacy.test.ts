/**
 * Promise 2: the daemon learns no more than it must and tells no one more than it must.
 * - No IP address reaches any client (every byte of a whole session, handshake lines and
 *   every decrypted frame, is checked).
 * - The default log of a real daemon process over a whole session names no user, no room
 *   and no client address (and with --verbose it does, which shows the check can fail).
 * - With --rooms-file the daemon process is never given a password: not in its argv, not in
 *   its environment, not in its log, and clients still authenticate.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { ChatSession } from '../../lib/client/session/session.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { joinAs, startDaemon } from '../helpers/daemon.js';
import { builtCli } from '../helpers/paths.js';
import { startDaemonProcess } from '../helpers/processes.js';
import { type RawClient, rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const ADDRESS = /127\.0\.0\.\d+|::1\b|::ffff:|localhost/i;

/** Reads and opens every record `c` receives, until it closes. */
function pump(c: RawClient): Promise<void> {
  return (async () => {
    try {
      for (;;) await c.nextFrames(120_000);
    } catch {
      // closed
    }
  })();
}

test('no IP address in anything a client receives over a whole session', async () => {
  const d = await startDaemon({ chat: 'pw-1' }, { limits: { historySize: 10 } });
  try {
    const alice = await joinAs(d, 'chat', 'pw-1', 'alice');
    alice.send('history before the observer joins');
    await alice.waitForEchoes();
    const observer = await rawAuthenticated(d.port, 'chat', 'pw-1', '127.0.0.5');
    const pumping = pump(observer);
    observer.sendFrame({ type: 'join', username: 'observer' });
    const other = await rawAuthenticated(d.port, 'chat', 'pw-1', '127.0.0.6');
    other.sendFrame({ type: 'join', username: 'bad\u202ename' }); // error frame
    other.sendFrame({ type: 'join', username: 'zaphod' });
    other.sendMessage('hello from 127.0.0.6?', { from: 'zaphod' });
    other.sendFrame({ type: 'nick', username: 'ford' });
    alice.send('hi all');
    observer.sendFrame({ type: 'ping', t: 1 });
    observer.sendFrame({ type: 'message', text: 'x' }); // relayed as undecryptable
    observer.sendFrame({ type: 'nope' }); // error frame
    alice.wipeHistory();
    await alice.waitForEchoes();
    await waitFor(() => observer.plaintexts.some((p) => p.includes('"cleared"')), 'the cleared frame');
    other.destroy();
    await waitFor(() => observer.plaintexts.some((p) => p.includes('"user_left"')), 'user_left');
    await alice.close();
    await waitFor(
      () => observer.plaintexts.filter((p) => p.includes('"user_left"')).length >= 2,
      'alice leaving',
    );
    await d.stop(); // shutdown frame
    await observer.waitClosed();
    await pumping;

    const everything = [observer.rawReceived, ...observer.handshakeLines, ...observer.plaintexts];
    // The check sees what the session carried (it is not vacuous)...
    const all = everything.join('\n');
    for (const kind of [
      'init',
      'user_joined',
      'message',
      'user_renamed',
      'pong',
      'error',
      'cleared',
      'user_left',
      'shutdown',
    ]) {
      assert.ok(all.includes(`"type":"${kind}"`), `the session should have carried a ${kind} frame`);
    }
    assert.ok(all.includes('"B":'), 'the handshake lines are included');
    // ...and no address anywhere. (The message body above mentions one, but it is inside a
    // Fernet token the daemon cannot read, so it is not in these plaintexts as text either.)
    for (const text of everything) {
      const m = ADDRESS.exec(text);
      assert.equal(m, null, `an address leaked: ${m?.[0]} in ${text.slice(0, 200)}`);
    }
  } finally {
    await d.stop();
  }
});

/** A whole session against a real daemon process, from two non-default loopback addresses. */
async function loggedSession(verbose: boolean): Promise<{ stderr: string; ports: number[] }> {
  const daemon = await startDaemonProcess([
    '--room',
    'secretroom=pw-secret-1',
    ...(verbose ? ['--verbose'] : []),
  ]);
  const ports: number[] = [];
  try {
    const zaphod = await rawAuthenticated(daemon.port, 'secretroom', 'pw-secret-1', '127.0.0.9');
    ports.push(zaphod.socket.localPort!);
    assert.equal((await zaphod.join('zaphod')).type, 'init');
    const trillian = await rawAuthenticated(daemon.port, 'secretroom', 'pw-secret-1', '127.0.0.10');
    ports.push(trillian.socket.localPort!);
    assert.equal((await trillian.join('trillian\u200b')).code, 'bad_name');
    assert.equal((await trillian.join('trillian')).type, 'init');
    zaphod.sendMessage('hello', { from: 'zaphod' });
    await trillian.nextFrameWhere((f) => f.type === 'message');
    trillian.sendFrame({ type: 'nick', username: 'ford' });
    await zaphod.nextFrameWhere((f) => f.type === 'user_renamed');
    // Failures the log counts: a wrong password, an unknown room, a tampered record.
    const wrong = await rawAuthenticated(daemon.port, 'secretroom', 'wrong', '127.0.0.9').catch(
      () => undefined,
    );
    assert.equal(wrong, undefined);
    const unknown = await rawAuthenticated(daemon.port, 'hiddenroom', 'x', '127.0.0.10').catch(
      () => undefined,
    );
    assert.equal(unknown, undefined);
    const record = trillian.seal('{"type":"ping","t":1}');
    record[5]! ^= 1;
    trillian.write(record);
    await trillian.waitClosed();
    zaphod.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    assert.equal(await daemon.stop('SIGTERM'), 0);
  }
  return { stderr: daemon.stderr(), ports };
}

test('the default log of a whole session names no user, no room and no client address', async () => {
  const { stderr, ports } = await loggedSession(false);
  assert.match(stderr, /listening on/);
  assert.match(stderr, /auth_failed|bad_request/, 'the log should count the failures');
  for (const secret of [
    'zaphod',
    'trillian',
    'ford',
    'secretroom',
    'hiddenroom',
    '127.0.0.9',
    '127.0.0.10',
  ]) {
    assert.ok(!stderr.includes(secret), `the log names "${secret}":\n${stderr}`);
  }
  for (const port of ports) assert.ok(!stderr.includes(`:${port}`), `the log has a client port ${port}`);
  // The daemon's own listening address is in the start-up line; no other line has an address.
  const others = stderr.split('\n').filter((l) => l.trim() !== '' && !/listening on/.test(l));
  for (const line of others) assert.doesNotMatch(line, ADDRESS, line);
  assert.ok(!stderr.includes('pw-secret-1'), 'the log has the password');
});

test('with --verbose the same session does name them (the check above can fail)', async () => {
  const { stderr } = await loggedSession(true);
  assert.ok(stderr.includes('zaphod') || stderr.includes('secretroom'), stderr);
  assert.ok(stderr.includes('secretroom'), stderr);
});

test('with --rooms-file the daemon process never receives a password', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-sec-'));
  const password = 'Tr0ub4dor&3-rooms-file';
  try {
    const pwFile = join(dir, 'pw');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    const entry = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [builtCli, 'room-entry', 'vault', '--password-file', pwFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      p.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      p.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
      p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`room-entry: ${code} ${err}`))));
    });
    assert.ok(!entry.includes(password));
    const parsed = JSON.parse(entry.trim());
    assert.equal(parsed.room, 'vault');
    const roomsFile = join(dir, 'rooms');
    writeFileSync(roomsFile, `# rooms\n${entry}`);

    const daemon = await startDaemonProcess(['--rooms-file', roomsFile]);
    try {
      const pid = daemon.proc.pid!;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      assert.ok(cmdline.includes('--rooms-file'), 'sanity: we read the right process');
      assert.ok(!cmdline.includes(password), 'the password is in the daemon argv');
      assert.ok(!environ.includes(password), 'the password is in the daemon environment');
      assert.ok(!cmdline.includes(pwFile), 'the password file is named to the daemon');

      const session = await ChatSession.open({
        reconnect: false,
        transport: tcpClient({ host: '127.0.0.1', port: daemon.port }),
        room: 'vault',
        password,
      });
      await session.join('keeper');
      const echoed = new Promise<ChatEvent>((resolve) =>
        session.on('event', (e) => e.type === 'message' && resolve(e)),
      );
      session.send('the daemon cannot read this');
      const ev = await echoed;
      assert.equal(ev.type === 'message' && ev.body, 'the daemon cannot read this');
      // A wrong password is refused, so the verifier really is what authenticates.
      await assert.rejects(
        ChatSession.open({
          reconnect: false,
          transport: tcpClient({ host: '127.0.0.1', port: daemon.port }),
          room: 'vault',
          password: `${password}x`,
        }),
        /authentication failed/,
      );
      await session.close();
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0);
    }
    assert.ok(!daemon.stderr().includes(password), 'the password is in the daemon log');
    assert.ok(!daemon.stdout().includes(password), 'the password is in the daemon output');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
