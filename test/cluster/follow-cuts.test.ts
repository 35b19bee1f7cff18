/**
 * A member's place in a cluster's room: a `--json --follow` reader cut at random moments while
 * a piped sender on another daemon keeps posting, and each time coming back through the other
 * daemon. Every line reaches it exactly once, in order, from the room's log, with no gap.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterForTest } from '../helpers/cluster.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { jsonEvents, NO_PACING_FLAGS, spawnCli } from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'follow-cuts-password';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

test('a --follow reader cut while another daemon posts, back through either daemon: every line once, in order', async (t) => {
  const cluster = await clusterForTest(t, 2, ['--room', `chat=${PW}`, ...NO_PACING_FLAGS]);
  if (!cluster) return;
  const [a, b] = cluster.daemons as [(typeof cluster.daemons)[0], (typeof cluster.daemons)[0]];
  const env = { ...cluster.env, CMD_CHAT_PASSWORD: PW };
  const proxy = await FaultProxy.start(b.port);
  t.after(() => proxy.stop());
  const reader = spawnCli(
    [
      'connect',
      '127.0.0.1',
      String(proxy.port),
      'reader',
      '--room',
      'chat',
      '--json',
      '--follow',
      '--commands',
    ],
    env,
  );
  t.after(() => reader.proc.kill('SIGKILL'));
  reader.proc.stdin.write('/who\n');
  await waitFor(() => reader.stdout().includes('"type":"info"'), `the reader: ${reader.stderr()}`, 30_000);
  const sender = spawnCli(['connect', '127.0.0.1', String(a.port), 'sender', '--room', 'chat'], env);
  t.after(() => sender.proc.kill('SIGKILL'));

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
