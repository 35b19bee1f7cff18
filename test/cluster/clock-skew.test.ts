/**
 * Daemons whose wall clocks disagree, three real `serve --cluster` daemons on one real
 * nats-server: one on time, one 150 s ahead and one 30 s behind (Date shifted by the
 * test/fixtures/clock-shift.mjs loader). Private messages, which cross daemons on the bus,
 * arrive both ways between every pair; every daemon logs each far-off peer's clock offset
 * exactly once, however many events it receives from it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { clusterForTest, member, waitForPresence } from '../helpers/cluster.js';
import { repoRoot } from '../helpers/paths.js';
import type { DaemonProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'correct horse battery staple';
const CLOCK_SHIFT = join(repoRoot, 'test', 'fixtures', 'clock-shift.mjs');

/** The offset lines of a daemon's log: each as signed seconds (ahead positive). */
function offsets(d: DaemonProcess): number[] {
  const found: number[] = [];
  for (const m of d
    .stderr()
    .matchAll(/cluster: daemon [0-9a-f]{8}'s clock is (\d+) s (ahead of|behind) ours/g)) {
    found.push(Number(m[1]) * (m[2] === 'behind' ? -1 : 1));
  }
  return found.sort((x, y) => x - y);
}

/** Whether `got` matches `want` (sorted) to within 3 s each. */
function near(got: number[], want: number[]): boolean {
  return got.length === want.length && got.every((g, i) => Math.abs(g - (want[i] ?? 0)) <= 3);
}

test('daemons 150 s ahead and 30 s behind: private messages cross both ways, offsets logged once', async (t) => {
  const cluster = await clusterForTest(t, 1, ['--room', `chat=${PW}`]);
  if (!cluster) return;
  const shifted = (ms: number): Promise<DaemonProcess> =>
    cluster.addDaemon(undefined, {
      NODE_OPTIONS: `--import=${CLOCK_SHIFT}`,
      CMD_CHAT_TEST_CLOCK_MS: String(ms),
    });
  const ahead = await shifted(150_000);
  const behind = await shifted(-30_000);
  const [normal] = cluster.daemons as [DaemonProcess];
  const alice = await member(ahead, 'chat', PW, 'alice');
  const bob = await member(behind, 'chat', PW, 'bob');
  const carol = await member(normal, 'chat', PW, 'carol');
  const all = [alice, bob, carol];
  t.after(() => Promise.all(all.map((m) => m.session.close().catch(() => {}))));
  await waitForPresence(all, 3);

  // Every pair, both ways, twice (the offset must not be logged again).
  for (let round = 0; round < 2; round++) {
    for (const from of all) {
      for (const to of all) {
        if (from === to) continue;
        const body = `psst ${round} ${from.name}>${to.name}`;
        from.session.sendPrivate(to.name, body);
        await to.log.waitFor(
          (e) => e.type === 'private' && e.body === body && !e.mine,
          `${body} arrives`,
          10_000,
        );
      }
    }
  }

  // Each daemon names each far-off peer once: the ahead one's peers are 150 s and 180 s behind.
  const want = new Map<DaemonProcess, number[]>([
    [normal, [-30, 150]],
    [ahead, [-180, -150]],
    [behind, [30, 180]],
  ]);
  for (const [d, expected] of want) {
    await waitFor(() => offsets(d).length >= expected.length, 'offset lines');
    assert.ok(
      near(offsets(d), expected),
      `offsets ${JSON.stringify(offsets(d))}, want ${JSON.stringify(expected)}`,
    );
  }
});
