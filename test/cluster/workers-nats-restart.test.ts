/**
 * A `serve --workers 2` tree whose private nats-server is killed: the primary restarts it and
 * the workers reconnect. Members who join while that happens and right after (as soon as a
 * join succeeds), without reconnecting, stay in the room: nobody's connection is ended while
 * the workers settle, and every one of them receives the messages sent later by all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Member, member, skipWithoutNats } from '../helpers/cluster.js';
import { isMessage } from '../helpers/events.js';
import { startDaemonProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'correct horse battery staple';
/** How long members keep joining after the kill (through the restart and past it). */
const JOINING_MS = 6000;
/** How long after the last join the members must all still be there. */
const SETTLE_MS = 3000;

test('serve --workers: members joining while its nats-server restarts stay in the room', async (t) => {
  if (skipWithoutNats(t)) return;
  // Leases of 3 s (the default): a loaded machine does not make a worker miss one, while a
  // renewal stuck with the old server (its 5 s timeout) did.
  const d = await startDaemonProcess(['--workers', '2', '--cluster-heartbeat', '1', '--room', `chat=${PW}`]);
  t.after(() => d.stop('SIGKILL'));
  const pid = /nats-server \(pid (\d+)\) ready/.exec(d.stderr());
  assert.ok(pid, `the nats-server line:\n${d.stderr()}`);

  const members: Member[] = [];
  const dropped: string[] = [];
  const keep = (m: Member): void => {
    members.push(m);
    m.session.once('close', (err) => dropped.push(`${m.name}: ${err?.message ?? 'closed'}`));
  };
  keep(await member(d, 'chat', PW, 'before'));
  process.kill(Number(pid[1]), 'SIGKILL');
  const start = performance.now();
  const refused: string[] = [];
  const joins: Array<Promise<void>> = [];
  for (let i = 0; performance.now() - start < JOINING_MS; i++) {
    // A join while the server is away may be refused or wait; one that succeeds must hold.
    const at = Math.round(performance.now() - start);
    joins.push(
      member(d, 'chat', PW, `m${i}`).then(
        keep,
        (err: Error) => void refused.push(`m${i} (at ${at} ms): ${err.message}`),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await Promise.all(joins);
  await waitFor(
    () => (d.stderr().match(/nats-server \(pid \d+\) ready/g) ?? []).length === 2,
    `nats-server restarted:\n${d.stderr()}`,
    30_000,
  );
  const joinedAfter = members.length - 1;
  assert.ok(
    joinedAfter >= 5,
    `members joined during and after the restart: ${joinedAfter}; refused: ${refused.join('; ')}`,
  );
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  assert.deepEqual(dropped, [], `nobody's connection ended (${dropped.join('; ')}):\n${d.stderr()}`);

  for (const m of members) m.session.send(`from ${m.name}`);
  for (const m of members) {
    for (const o of members)
      await m.log.waitFor(isMessage(`from ${o.name}`), `${o.name} → ${m.name}`, 20_000);
  }
  assert.deepEqual(dropped, [], 'nobody dropped while they talked');
  await Promise.all(members.map((m) => m.session.close()));
});
