/**
 * A member's place in a cluster's room: a `--json --follow` reader cut at random moments while
 * a piped sender on another daemon keeps posting, and each time coming back through the other
 * daemon. Every line reaches it exactly once, in order, from the room's log, with no gap. And
 * an outage longer than the cluster's resume window: the reader, back through the other
 * daemon, is told exactly how many it lost, gets the rest in order and exits 9.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { ExitCode } from '../../lib/exit-codes.js';
import { clusterForTest, type TestCluster } from '../helpers/cluster.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import {
  type Captured,
  type DaemonProcess,
  jsonEvents,
  NO_PACING_FLAGS,
  spawnCli,
} from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'follow-cuts-password';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** A `--json --follow` reader of room `chat` through `port`, once it is in the room. */
async function startReader(port: number, env: NodeJS.ProcessEnv): Promise<Captured> {
  const reader = spawnCli(
    ['connect', '127.0.0.1', String(port), 'reader', '--room', 'chat', '--json', '--follow', '--commands'],
    env,
  );
  reader.proc.stdin.write('/who\n');
  await waitFor(
    () => reader.stdout().includes('"type":"info"'),
    () => `the reader: ${reader.stderr()}`,
    30_000,
  );
  return reader;
}

/**
 * Room `chat` on two daemons: a `--json --follow` reader on B through a fault proxy, and a
 * piped sender on A; all stopped when the test ends.
 */
async function readerAndSender(t: TestContext, cluster: TestCluster) {
  const [a, b] = cluster.daemons as [DaemonProcess, DaemonProcess];
  const env = { ...cluster.env, CMD_CHAT_PASSWORD: PW };
  const proxy = await FaultProxy.start(b.port);
  t.after(() => proxy.stop());
  const reader = await startReader(proxy.port, env);
  t.after(() => reader.proc.kill('SIGKILL'));
  const sender = spawnCli(['connect', '127.0.0.1', String(a.port), 'sender', '--room', 'chat'], env);
  t.after(() => sender.proc.kill('SIGKILL'));
  return { a, b, proxy, reader, sender };
}

test('a --follow reader cut while another daemon posts, back through either daemon: every line once, in order', async (t) => {
  const cluster = await clusterForTest(t, 2, ['--room', `chat=${PW}`, ...NO_PACING_FLAGS]);
  if (!cluster) return;
  const { a, b, proxy, reader, sender } = await readerAndSender(t, cluster);

  const LINES = 3000;
  const lines = Array.from({ length: LINES }, (_, i) => `line ${i + 1}`);
  const back = (): number => occurrences(reader.stdout(), '"type":"reconnected"');
  let cuts = 0;
  const cutter = (async (): Promise<void> => {
    for (let i = 0; i < 4; i++) {
      await sleep(400 + Math.random() * 900);
      await waitFor(() => back() >= cuts, `the reader back (${cuts} cuts): ${reader.stderr()}`, 30_000);
      proxy.retarget(cuts % 2 === 0 ? a.port : b.port);
      proxy.cut();
      cuts++;
    }
  })();
  for (let i = 0; i < LINES; i += 100) {
    sender.proc.stdin.write(`${lines.slice(i, i + 100).join('\n')}\n`);
    await sleep(100);
  }
  await cutter;
  sender.proc.stdin.end();
  assert.equal(await sender.exited, 0, sender.stderr());
  const messages = (): number => occurrences(reader.stdout(), '"type":"message"');
  await waitFor(
    () => messages() >= LINES,
    () =>
      `every line at the reader: ${messages()}; ${reader
        .stdout()
        .split('\n')
        .filter((l) => !l.includes('"type":"message"'))
        .slice(-8)
        .join('\n')}`,
    60_000,
  );
  await sleep(300);
  const events = jsonEvents(reader);
  assert.equal(back(), 4);
  assert.deepEqual(
    events.filter((e) => e.type === 'message').map((e) => e.text),
    lines,
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'gap'),
    [],
  );
});

test('an outage longer than the resume window, back through the other daemon: the gap is exact, the reader exits 9', async (t) => {
  const cluster = await clusterForTest(t, 2, [
    '--room',
    `chat=${PW}`,
    ...NO_PACING_FLAGS,
    '--resume-window',
    '200',
  ]);
  if (!cluster) return;
  const { a, proxy, reader, sender } = await readerAndSender(t, cluster);
  const TOTAL = 3000;
  const lines = Array.from({ length: TOTAL }, (_, i) => `line ${i + 1}`);
  const received = (): number[] =>
    jsonEvents(reader)
      .filter((e) => e.type === 'message')
      .map((e) => Number(String(e.text).slice('line '.length)));
  sender.proc.stdin.write(`${lines.slice(0, 100).join('\n')}\n`);
  await waitFor(() => received().length >= 100, 'the first 100 at the reader', 30_000);
  proxy.refuse(true);
  proxy.cut();
  await waitFor(() => reader.stdout().includes('"type":"disconnected"'), 'the reader to notice', 10_000);
  // The sender ends once every line is in the log (each echoed): the outage covers them all.
  sender.proc.stdin.end(`${lines.slice(100).join('\n')}\n`);
  assert.equal(await sender.exited, 0, sender.stderr());
  proxy.retarget(a.port);
  proxy.refuse(false);
  const gaps = (): Array<Record<string, unknown>> => jsonEvents(reader).filter((e) => e.type === 'gap');
  const lost = (): number => gaps().reduce((sum, e) => sum + Number(e.lost), 0);
  await waitFor(
    () => received().at(-1) === TOTAL,
    () => `the reader back with the last line: ${received().length} received, ${lost()} lost`,
    30_000,
  );
  await sleep(300);
  const got = received();
  t.diagnostic(`received ${got.length}, lost ${lost()}`);
  assert.equal(gaps().length, 1, JSON.stringify(gaps()));
  assert.equal(gaps()[0]?.wiped, 0);
  assert.ok(lost() > 0, 'the window no longer reached back');
  // Exactly the lines the gap does not count, once each, in order: the first 100, then the
  // log's tail after the lost ones.
  assert.equal(got.length + lost(), TOTAL);
  assert.deepEqual(got, [
    ...Array.from({ length: 100 }, (_, i) => i + 1),
    ...Array.from({ length: TOTAL - 100 - lost() }, (_, i) => 100 + lost() + i + 1),
  ]);
  reader.proc.kill('SIGINT');
  assert.equal(await reader.exited, ExitCode.messagesLost, reader.stderr());
  assert.match(reader.stderr(), new RegExp(`${lost()} messages were lost`));
});
