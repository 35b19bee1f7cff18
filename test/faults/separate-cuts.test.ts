/**
 * A member's place in the room under faults that come apart: a piped sender and a `--json
 * --follow` reader, each behind its own fault proxy, each cut at its own random moments
 * (never both away at once), so the sender keeps posting while the reader is away: every line
 * arrives at the reader exactly once, in order. And an outage longer than the daemon's resume
 * window: the reader gets a `gap` event with the exact number lost, and exits 9 however it ends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExitCode } from '../../lib/exit-codes.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import {
  type Captured,
  jsonEvents,
  NO_PACING_FLAGS,
  spawnCli,
  startDaemonProcess,
} from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'separate-cuts-password';
const ENV = { CMD_CHAT_PASSWORD: PW };

/** Polls gently (the processes under test need the CPU more than this one). */
/** The process's exit code, or undefined when it has not ended within `ms` (a hang fails, never stalls the run). */
async function exitOf(
  p: { exited: Promise<number | null> },
  ms = 60_000,
): Promise<number | null | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

// Polled every 50 ms: a check may parse a whole reader's output.
const until = (check: () => boolean, what: () => string, timeoutMs: number): Promise<void> =>
  waitFor(check, what, timeoutMs, 50);

function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

const fromSender = (events: Array<Record<string, unknown>>): string[] =>
  events.filter((e) => e.type === 'message' && e.user === 'sender').map((e) => String(e.text));

/** Starts a `--json --follow` reader through `port` and waits until it is in the room. */
async function startReader(port: number): Promise<Captured> {
  const reader = spawnCli(
    ['connect', '127.0.0.1', String(port), 'reader', '--json', '--follow', '--commands'],
    ENV,
  );
  reader.proc.stdin.write('/who\n');
  await until(
    () => reader.stdout().includes('"type":"info"'),
    () => `the reader: ${reader.stderr()}`,
    20_000,
  );
  return reader;
}

test('10,000 lines, sender and reader each cut at their own random moments: every line once, in order, at the reader', async () => {
  const LINES = 10_000;
  const daemon = await startDaemonProcess([
    '--password',
    PW,
    ...NO_PACING_FLAGS,
    '--max-queue',
    String(64 * 1024 * 1024),
  ]);
  const senderProxy = await FaultProxy.start(daemon.port);
  const readerProxy = await FaultProxy.start(daemon.port);
  const reader = await startReader(readerProxy.port);
  const sender = spawnCli(['connect', '127.0.0.1', String(senderProxy.port), 'sender'], ENV);
  try {
    const lines = Array.from({ length: LINES }, (_, i) => `line ${i + 1}`);
    // Fed in slices, so the run lasts long enough for the cuts to land while it posts.
    let written = 0;
    const cuts = { sender: 0, reader: 0 };
    const back = {
      sender: (): number => occurrences(sender.stderr(), '-- reconnected'),
      reader: (): number => occurrences(reader.stdout(), '"type":"reconnected"'),
    };
    const bothIn = (): boolean => back.sender() === cuts.sender && back.reader() === cuts.reader;
    const feed = (n: number): void => {
      sender.proc.stdin.write(`${lines.slice(written, n).join('\n')}\n`);
      written = n;
    };
    feed(400);
    // Cuts start once the sender is in the room (a cut before its first join is not a reconnect).
    await until(
      () => sender.stdout().includes('sender: line 1\n') || sender.proc.exitCode !== null,
      () => `the sender: ${sender.stderr()}`,
      30_000,
    );
    while (written < LINES && sender.proc.exitCode === null) {
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
      feed(Math.min(LINES, written + 400));
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      // One side at a time, and only when both are in the room: the other keeps going.
      if (bothIn() && Math.random() < 0.7) {
        const side = Math.random() < 0.5 ? 'sender' : 'reader';
        (side === 'sender' ? senderProxy : readerProxy).cut();
        cuts[side]++;
      }
      await until(
        () => bothIn() || sender.proc.exitCode !== null || reader.proc.exitCode !== null,
        () => `both back (${JSON.stringify(cuts)}): ${sender.stderr()} ${reader.stderr()}`,
        30_000,
      );
    }
    sender.proc.stdin.end();
    assert.equal(await exitOf(sender), 0, sender.stderr());
    assert.ok(cuts.sender >= 2 && cuts.reader >= 2, `each side was cut (${JSON.stringify(cuts)})`);
    await until(
      () => occurrences(reader.stdout(), '"user":"sender"') >= LINES,
      () => `every line at the reader: ${occurrences(reader.stdout(), '"user":"sender"')}`,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive now
    const events = jsonEvents(reader);
    assert.deepEqual(fromSender(events), lines);
    assert.equal(events.filter((e) => e.type === 'gap').length, 0);
  } finally {
    if (sender.proc.exitCode === null) sender.proc.kill('SIGKILL');
    reader.proc.kill('SIGKILL');
    await senderProxy.stop();
    await readerProxy.stop();
    await daemon.stop('SIGKILL');
  }
});

test('an outage longer than the resume window: the gap event says exactly how many were lost, and the reader exits 9', async () => {
  const WINDOW = 200;
  const daemon = await startDaemonProcess([
    '--password',
    PW,
    ...NO_PACING_FLAGS,
    '--resume-window',
    String(WINDOW),
  ]);
  const readerProxy = await FaultProxy.start(daemon.port);
  const reader = await startReader(readerProxy.port);
  const sender = spawnCli(['connect', '127.0.0.1', String(daemon.port), 'sender'], ENV);
  try {
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i + 1}`);
    sender.proc.stdin.write(`${lines.slice(0, 100).join('\n')}\n`);
    await until(
      () => fromSender(jsonEvents(reader)).length >= 100,
      () => 'the first 100 at the reader',
      30_000,
    );
    readerProxy.refuse(true);
    readerProxy.cut();
    await until(
      () => reader.stdout().includes('"type":"disconnected"'),
      () => 'the reader to notice',
      10_000,
    );
    sender.proc.stdin.end(`${lines.slice(100).join('\n')}\n`);
    assert.equal(await exitOf(sender), 0, sender.stderr());
    readerProxy.refuse(false);
    await until(
      () => fromSender(jsonEvents(reader)).length >= 100 + WINDOW,
      () => `the reader back: ${reader.stderr()}`,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const events = jsonEvents(reader);
    const gaps = events.filter((e) => e.type === 'gap');
    assert.equal(gaps.length, 1, JSON.stringify(gaps));
    assert.equal(gaps[0]?.v, 1);
    assert.equal(gaps[0]?.lost, 1000 - 100 - WINDOW);
    assert.equal(gaps[0]?.wiped, 0);
    assert.deepEqual(fromSender(events), [...lines.slice(0, 100), ...lines.slice(1000 - WINDOW)]);
    reader.proc.kill('SIGINT');
    assert.equal(await exitOf(reader), ExitCode.messagesLost, reader.stderr());
    assert.match(reader.stderr(), /700 messages were lost/);
  } finally {
    if (sender.proc.exitCode === null) sender.proc.kill('SIGKILL');
    if (reader.proc.exitCode === null) reader.proc.kill('SIGKILL');
    await readerProxy.stop();
    await daemon.stop('SIGKILL');
  }
});
