/**
 * Nothing on disk in a cluster either: nats-server, run as the cluster tests and docs/cluster.md
 * run it (no JetStream, no store, no log or pid file), carries sealed room traffic, is killed
 * and restarted, all under `strace -f`; it creates, writes, renames or removes no file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { type BusEvent, NatsRoomBus } from '../../lib/cluster/bus.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import { silentLogger } from '../../lib/server/log.js';
import { natsProblem, startNatsServer } from '../helpers/nats.js';
import { waitFor } from '../helpers/raw-client.js';
import { straceProblem, violations } from '../helpers/strace.js';

test('nothing touches disk: nats-server carrying room traffic and restarted, under strace', async (t) => {
  if (process.platform !== 'linux') return t.skip('strace exists only on Linux');
  for (const problem of [straceProblem(), natsProblem()]) assert.equal(problem, undefined, problem);
  const server = await startNatsServer({ traced: true });
  const keys = deriveClusterKeys(randomBytes(32));
  const options = { servers: [server.url], reconnectWaitMs: 100 };
  const [a, b] = await Promise.all([
    NatsRoomBus.connect(options, keys, silentLogger),
    NatsRoomBus.connect(options, keys, silentLogger),
  ]);
  const got: BusEvent[] = [];
  try {
    b.subscribeRoom('room', (e) => got.push(e));
    await b.flush();
    for (let i = 0; i < 200; i++) a.publish('room', { type: 'message', text: `m${i}`.padEnd(300, '.') });
    await waitFor(() => got.length === 200, 'the traffic before the restart');
    await server.stop('SIGKILL');
    await server.restart();
    await waitFor(
      () => {
        a.publish('room', { type: 'message', text: 'after' });
        return got.some((e) => e.text === 'after');
      },
      'the traffic after the restart',
      20_000,
    );
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server.stop();
  }
  const trace = server.output();
  assert.match(trace, /openat\(/, 'sanity: strace saw nats-server open files');
  const bad = violations(trace);
  assert.deepEqual(bad, [], `file system writes:\n${bad.join('\n')}`);
});
