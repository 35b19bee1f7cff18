/**
 * A daemon restarted on its port with the same password (same room fingerprint, a new life
 * of the room's log): a returning `--json --follow` reader is told that the room started
 * over, once, after `reconnected`; it is not reported as a gap of lost messages (the count is
 * unknown) and does not end with exit 9.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExitCode } from '../../lib/exit-codes.js';
import { type Captured, freePort, spawnCli } from '../helpers/processes.js';
import { startJsonReader } from '../helpers/pty.js';
import { waitFor } from '../helpers/raw-client.js';

const PW = 'room-restarted-password';

async function serveOn(port: number): Promise<Captured> {
  const daemon = spawnCli(['serve', '127.0.0.1', String(port), '--password', PW]);
  await waitFor(
    () => /listening on/.test(daemon.stderr()) || daemon.proc.exitCode !== null,
    'the daemon',
    20_000,
  );
  assert.match(daemon.stderr(), /listening on/);
  return daemon;
}

test('a restarted daemon: "the room started over", not a gap, and no exit 9', {
  timeout: 120_000,
}, async () => {
  const port = await freePort();
  let daemon = await serveOn(port);
  const reader = await startJsonReader(port, 'watcher', PW);
  try {
    daemon.proc.kill('SIGKILL');
    await daemon.exited;
    daemon = await serveOn(port);
    await reader.waitFor((evs) => evs.some((e) => e.type === 'restarted'), 'the restart told', 30_000);
    const types = reader.events().map((e) => String(e.type));
    assert.equal(types.filter((t) => t === 'restarted').length, 1, types.join(' '));
    assert.ok(types.indexOf('reconnected') < types.indexOf('restarted'), types.join(' '));
    assert.equal(types.filter((t) => t === 'gap').length, 0, types.join(' '));
    const code = await reader.stop();
    assert.notEqual(code, ExitCode.messagesLost, reader.stderr());
    assert.doesNotMatch(reader.stderr(), /lost while away/);
  } finally {
    await reader.stop();
    daemon.proc.kill('SIGKILL');
  }
});
