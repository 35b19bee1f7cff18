/**
 * Reconnect as the user meets it, with real processes behind the fault proxy: 10,000 piped
 * lines through five cut links arrive complete, in order and once at a `--json --follow`
 * reader that lived through the cuts too (and once in the daemon's history); a REPL keeps its
 * half-typed line across a lost connection and sends what was typed meanwhile; a daemon killed
 * and restarted on its port gets its REPL and pipe clients back on their own, under the same
 * room fingerprint; a daemon that comes back with another room fingerprint is refused loudly
 * (JSON event, stderr, exit 4).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatSession } from '../../lib/client/session/session.js';
import { openEnvelope } from '../../lib/crypto/envelope.js';
import { ExitCode } from '../../lib/exit-codes.js';
import { tcpClient } from '../../lib/transport/tcp.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import {
  type Captured,
  freePort,
  NO_PACING_FLAGS,
  spawnCli,
  startDaemonProcess,
} from '../helpers/processes.js';
import { startJsonReader, startPtyClient } from '../helpers/pty.js';
import { rawAuthenticated, waitFor } from '../helpers/raw-client.js';

const PW = 'reconnect-cli-password';
const ENV = { CMD_CHAT_PASSWORD: PW };

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Counts complete lines containing `needle` in a growing output, scanning only what is new. */
function lineCounter(output: () => string, needle: string): () => number {
  let scanned = 0;
  let seen = 0;
  return () => {
    const text = output();
    const end = text.lastIndexOf('\n') + 1;
    if (end > scanned) {
      seen += count(text.slice(scanned, end), needle);
      scanned = end;
    }
    return seen;
  };
}

/** Polls gently (the processes under test need the CPU more than this one). */
// Polled every 50 ms: a check may parse a whole reader's output.
const until = (check: () => boolean, what: () => string, timeoutMs: number): Promise<void> =>
  waitFor(check, what, timeoutMs, 50);

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

test('10,000 piped lines through 5 cut links: complete, in order, exactly once at a --json --follow reader and in the history', async () => {
  const LINES = 10_000;
  const daemon = await startDaemonProcess([
    '--password',
    PW,
    ...NO_PACING_FLAGS,
    '--history',
    '20000',
    '--history-bytes',
    String(8 * 1024 * 1024),
    '--max-members',
    '8',
    '--max-queue',
    String(64 * 1024 * 1024),
  ]);
  const proxy = await FaultProxy.start(daemon.port);
  const reader = spawnCli(
    ['connect', '127.0.0.1', String(proxy.port), 'reader', '--json', '--follow', '--commands'],
    ENV,
  );
  let sender: Captured | undefined;
  try {
    reader.proc.stdin.write('/who\n');
    await until(
      () => reader.stdout().includes('"type":"info"'),
      () => `the reader: ${reader.stderr()}`,
      20_000,
    );
    sender = spawnCli(['connect', '127.0.0.1', String(proxy.port), 'sender'], ENV);
    const echoes = lineCounter(sender.stdout, 'sender: line');
    const atReader = lineCounter(reader.stdout, '"user":"sender"');
    const lines = Array.from({ length: LINES }, (_, i) => `line ${i + 1}`);
    // Cut while the sender is mid-run: at these numbers of its echoes. Its stdin is fed ahead
    // of each cut and ended only after the last, so a fast sender cannot finish before it.
    const cutAt = [1500, 3000, 4500, 6000, 7500];
    let cuts = 0;
    const running = sender;
    let written = 0;
    const feedTo = (n: number): void => {
      running.proc.stdin.write(`${lines.slice(written, n).join('\n')}\n`);
      written = n;
    };
    const readerBack = lineCounter(reader.stdout, '"type":"reconnected"');
    const senderBack = lineCounter(running.stderr, '-- reconnected');
    for (const threshold of cutAt) {
      feedTo(threshold + 300);
      // Each cut finds both back in the room (so that each lives through all five).
      await until(
        () =>
          (echoes() >= threshold && readerBack() === cuts && senderBack() === cuts) ||
          running.proc.exitCode !== null,
        () => `the sender to reach ${threshold}: ${running.stderr()}`,
        60_000,
      );
      if (running.proc.exitCode !== null) break;
      proxy.cut();
      cuts++;
    }
    running.proc.stdin.end(`${lines.slice(written).join('\n')}\n`);
    assert.equal(await sender.exited, 0, sender.stderr());
    assert.equal(cuts, 5, 'all five cuts came while the sender was running');
    assert.ok(count(sender.stderr(), '-- reconnected') >= 5, sender.stderr());
    // The sender printed each of its lines once (its receipts).
    const echoed = sender
      .stdout()
      .split('\n')
      .filter((l) => l.includes('sender: line'))
      .map((l) => l.slice(l.indexOf('sender: ') + 8));
    assert.deepEqual(echoed, lines);

    await until(
      () => atReader() >= LINES,
      () => `every line at the reader: ${atReader()}`,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive now
    const events = reader
      .stdout()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const fromSender = events
      .filter((e) => e.type === 'message' && e.user === 'sender')
      .map((e) => String(e.text));
    assert.deepEqual(fromSender, lines);
    assert.ok(
      events.filter((e) => e.type === 'reconnected').length >= 5,
      'the reader lived through the cuts',
    );
    assert.ok(events.some((e) => e.type === 'disconnected'));
    assert.ok(events.some((e) => e.type === 'reconnecting'));

    // The daemon's history: each line once (a raw newcomer sees duplicates, if any).
    const raw = await rawAuthenticated(daemon.port, 'chat', PW);
    const init = await raw.join('auditor');
    const stored = (init.messages as Array<{ text: string }>).map(
      (m) => openEnvelope(raw.fernet!, m.text).body,
    );
    raw.destroy();
    assert.deepEqual(stored, lines);
  } finally {
    if (sender && sender.proc.exitCode === null) sender.proc.kill('SIGKILL');
    reader.proc.kill('SIGKILL');
    await proxy.stop();
    await daemon.stop('SIGKILL');
  }
});

test('REPL: a lost connection keeps the half-typed line, shows lines typed meanwhile as pending and sends them after rejoining; /quit with lines pending asks again', async () => {
  const daemon = await startDaemonProcess(['--password', PW]);
  const proxy = await FaultProxy.start(daemon.port);
  const reader = await startJsonReader(daemon.port, 'watcher', PW);
  const alice = startPtyClient(proxy.port, 'alice', { password: PW });
  try {
    await alice.waitForText('-- joined #chat');
    proxy.refuse(true);
    proxy.cut();
    await alice.waitForText('reconnecting in', 10_000);
    alice.write('typed while away\r');
    await alice.waitForText('pending (sent when reconnected): typed while away');
    // Quitting now would lose that line: the REPL says so and stays.
    alice.write('/quit\r');
    await alice.waitForText('1 line is not sent yet');
    assert.equal(alice.exitCode(), undefined, 'the REPL is still running after one /quit');
    alice.write('half typed');
    await alice.waitForScreen((s) => s.cursorLine().endsWith('half typed'), 'the half-typed line');
    proxy.refuse(false);
    await alice.waitForText('-- reconnected', 15_000);
    const text = await reader.waitForMessage('alice', 10_000);
    assert.equal(text, 'typed while away');
    await alice.waitForText('alice: typed while away');
    // The line being typed is still there (redrawn below what was printed), and still ours to send.
    await alice.waitForScreen((s) => s.cursorLine().endsWith('half typed'), 'the half-typed line kept');
    alice.write('\r');
    await reader.waitFor(
      (evs) => evs.some((e) => e.type === 'message' && e.text === 'half typed'),
      'the half-typed line, sent',
    );
    // Its echo confirms it: until then it would still count as not sent after the next cut
    // (the reader, not behind the proxy, can see it first).
    await alice.waitForText('alice: half typed');
    assert.equal(alice.exitCode(), undefined, 'the REPL is still running');
    // Lost again with a line pending: a second /quit leaves without it.
    proxy.refuse(true);
    proxy.cut();
    await alice.waitForText('reconnecting in', 10_000);
    alice.write('never sent\r');
    await alice.waitForText('pending (sent when reconnected): never sent');
    alice.write('/clear\r');
    await alice.waitForScreen((s) => !s.text().includes('1 line is not sent yet'), 'a clear screen');
    alice.write('/quit\r');
    await alice.waitForText('1 line is not sent yet');
    alice.write('/quit\r');
    assert.equal(await alice.exited, 0);
  } finally {
    alice.kill();
    await reader.stop();
    await proxy.stop();
    await daemon.stop('SIGKILL');
  }
});

/** The room fingerprint a fresh member of `chat` on the daemon at `port` is shown. */
async function fingerprintAt(port: number): Promise<string> {
  const session = await ChatSession.open({
    transport: tcpClient({ host: '127.0.0.1', port }),
    room: 'chat',
    password: PW,
    username: 'probe',
    reconnect: false,
  });
  const fingerprint = session.fingerprint;
  await session.close();
  return fingerprint;
}

test('a daemon killed and restarted on its port: the REPL and a --json --follow reader come back on their own, same fingerprint, half-typed line kept', async () => {
  const port = await freePort();
  let daemon = await serveOn(port, ['--password', PW]);
  const before = await fingerprintAt(port);
  const reader = await startJsonReader(port, 'watcher', PW);
  const alice = startPtyClient(port, 'alice', { password: PW });
  try {
    await alice.waitForText('-- joined #chat');
    await alice.waitForText(`-- room fingerprint ${before}`);
    alice.write('half typed');
    await alice.waitForScreen((sc) => sc.cursorLine().endsWith('half typed'), 'the half-typed line');
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    await alice.waitForText('reconnecting in', 15_000);
    await reader.waitFor((evs) => evs.some((e) => e.type === 'reconnecting'), 'reconnecting', 15_000);
    daemon = await serveOn(port, ['--password', PW]);
    assert.equal(await fingerprintAt(port), before, 'the same room fingerprint after the restart');
    await alice.waitForText('-- reconnected', 30_000);
    await reader.waitFor((evs) => evs.some((e) => e.type === 'reconnected'), 'the reader back', 30_000);
    // The prompt comes back with the line as it was (redrawn below what the rejoin printed).
    await alice.waitForScreen((s) => s.cursorLine().endsWith('half typed'), 'the half-typed line kept');
    alice.write('\r');
    assert.equal(await reader.waitForMessage('alice', 15_000), 'half typed');
    assert.equal(alice.exitCode(), undefined, 'the REPL is still running');
    assert.equal(
      reader.events().filter((e) => e.type === 'error').length,
      0,
      JSON.stringify(reader.events()),
    );
  } finally {
    alice.kill();
    await reader.stop();
    daemon.proc.kill('SIGKILL');
  }
});

test('a daemon back with another room fingerprint: the client says so (JSON event, stderr) and exits 4', async () => {
  const port = await freePort();
  let daemon = await serveOn(port, ['--open-rooms']);
  const reader = spawnCli(
    [
      'connect',
      '127.0.0.1',
      String(port),
      'rita',
      '--room',
      'lab',
      '--create',
      '--json',
      '--follow',
      '--commands',
    ],
    ENV,
  );
  try {
    reader.proc.stdin.write('/who\n');
    await waitFor(
      () => reader.stdout().includes('"type":"info"'),
      `rita in the room: ${reader.stderr()}`,
      20_000,
    );
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    // Same port, same password; the open room is created again with a new salt.
    daemon = await serveOn(port, ['--open-rooms']);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      reader.exited,
      new Promise<'hang'>((r) => {
        timer = setTimeout(() => r('hang'), 30_000);
      }),
    ]);
    clearTimeout(timer);
    assert.equal(code, ExitCode.authFailed, `stderr: ${reader.stderr()}\nstdout: ${reader.stdout()}`);
    const events = reader
      .stdout()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const warning = events.find((e) => e.type === 'error' && e.code === 'fingerprint_changed');
    assert.ok(warning, reader.stdout());
    assert.match(String(warning.message), /fingerprint changed from .* to /);
    assert.match(reader.stderr(), /room fingerprint changed/);
  } finally {
    if (reader.proc.exitCode === null) reader.proc.kill('SIGKILL');
    daemon.proc.kill('SIGKILL');
  }
});
