/**
 * The exact count on resume, with real processes: a `--json --follow` reader and a plain
 * `--follow` reader behind a fault proxy are cut while a piped sender posts N lines; when they
 * are back, the JSON reader's `reconnected` event says `missed: N` and the plain reader's line
 * says `-- N missed messages:` before any of them arrives, then each gets exactly those N, in
 * order, marked as history, handed over in pages under a small `--max-queue`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FaultProxy } from '../helpers/fault-proxy.js';
import {
  type Captured,
  jsonEvents,
  NO_PACING_FLAGS,
  spawnCli,
  startDaemonProcess,
} from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'resume-count-password';
const ENV = { CMD_CHAT_PASSWORD: PW };
const N = 700;

// Polled every 50 ms: a check may parse a whole reader's output.
const until = (check: () => boolean, what: () => string, timeoutMs = 30_000): Promise<void> =>
  waitFor(check, what, timeoutMs, 50);

test('readers cut while N lines are posted: `missed` is exactly N, then exactly those N arrive', async () => {
  const daemon = await startDaemonProcess([
    '--password',
    PW,
    ...NO_PACING_FLAGS,
    // Pages of at most 256 events and a quarter of this in characters: the N lines come in several.
    '--max-queue',
    String(1024 * 1024),
    '--history',
    '10',
    '--history-bytes',
    '8192',
    '--max-members',
    '8',
    '--resume-grace',
    '60',
  ]);
  const proxy = await FaultProxy.start(daemon.port);
  const follow = (name: string, json: boolean): Captured =>
    spawnCli(
      [
        'connect',
        '127.0.0.1',
        String(proxy.port),
        name,
        '--follow',
        '--commands',
        ...(json ? ['--json'] : []),
      ],
      ENV,
    );
  const json = follow('jreader', true);
  const plain = follow('preader', false);
  try {
    json.proc.stdin.write('/who\n');
    plain.proc.stdin.write('/who\n');
    await until(
      () => json.stdout().includes('"type":"info"'),
      () => `the JSON reader: ${json.stderr()}`,
    );
    await until(
      () => /jreader/.test(plain.stdout()),
      () => `the plain reader: ${plain.stderr()}`,
    );

    // Nothing reaches the readers while the sender posts; then their links go.
    proxy.pause('down', true);
    const lines = Array.from({ length: N }, (_, i) => `line ${i + 1} ${'x'.repeat(200)}`);
    const sender = spawnCli(['connect', '127.0.0.1', String(daemon.port), 'sender'], ENV);
    sender.proc.stdin.end(`${lines.join('\n')}\n`);
    assert.equal(await sender.exited, 0, sender.stderr());
    proxy.refuse(true);
    proxy.cut();
    proxy.pause('down', false);
    await until(
      () => json.stdout().includes('"type":"disconnected"'),
      () => 'the JSON reader to notice',
    );
    await until(
      () => plain.stderr().includes('-- connection lost'),
      () => 'the plain reader to notice',
    );
    assert.ok(!json.stdout().includes('"user":"sender"'), 'nothing reached the JSON reader before the cut');
    proxy.refuse(false);
    await until(
      () => json.stdout().includes('"type":"reconnected"'),
      () => `the JSON reader back: ${json.stderr()}`,
    );
    await until(
      () => plain.stderr().includes('-- reconnected'),
      () => `the plain reader back: ${plain.stderr()}`,
    );
    const back = jsonEvents(json).find((e) => e.type === 'reconnected');
    assert.equal(back?.missed, N, JSON.stringify(back));
    assert.match(plain.stderr(), new RegExp(`-- reconnected -- ${N} missed messages:`));

    // `09:12 sender (unverified): line 1 xxx…`
    const plainLines = (): string[] =>
      [...plain.stdout().matchAll(/ sender(?: \([a-z]+\))?: (line \d+ x+)$/gm)].map((m) => m[1] ?? '');
    const fromSender = (c: Captured): Array<Record<string, unknown>> =>
      jsonEvents(c).filter((e) => e.type === 'message' && e.user === 'sender');
    await until(
      () => fromSender(json).length >= N,
      () => `the ${N} lines at the JSON reader (${fromSender(json).length})`,
    );
    await until(
      () => plainLines().length >= N,
      () => `the lines at the plain reader (${plainLines().length})`,
    );
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive now
    const events = jsonEvents(json);
    const after = events.slice(events.indexOf(back as Record<string, unknown>) + 1);
    const missed = after.filter((e) => e.type === 'message');
    assert.deepEqual(
      missed.map((e) => e.text),
      lines,
      'exactly the N lines, once, in order',
    );
    assert.ok(
      missed.every((e) => e.history === true),
      'set apart as missed',
    );
    assert.equal(events.filter((e) => e.type === 'gap').length, 0);
    assert.deepEqual(plainLines(), lines);
  } finally {
    json.proc.kill('SIGKILL');
    plain.proc.kill('SIGKILL');
    await proxy.stop();
    await daemon.stop();
  }
});
