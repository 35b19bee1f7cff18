/**
 * The RAM store's sweep: a store directory left by a killed process (its name carries the
 * maker's pid) is removed at the next start, but only an empty one of ours whose maker is
 * dead; a live maker's, a non-empty one, a link and a stranger's name stay.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { notInRam, sweepStaleStores } from '../../lib/cluster/ram-store.js';

/** The pid of a process that has exited (and, on a quiet system, not been reused yet). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

test('sweepStaleStores removes only the empty store directories of dead makers', (t) => {
  if (process.platform === 'win32') return t.skip('POSIX pids and /dev/shm');
  const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-sweep-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dead = deadPid();
  const paths = {
    stale: join(dir, `cmd-chat-js-${dead}-aB3dE6`),
    live: join(dir, `cmd-chat-js-${process.pid}-aB3dE6`),
    full: join(dir, `cmd-chat-js-${dead}-zzzzzz`),
    other: join(dir, `other-js-${dead}-aB3dE6`),
    noPid: join(dir, 'cmd-chat-js-aB3dE6'),
  };
  for (const p of Object.values(paths)) mkdirSync(p);
  writeFileSync(join(paths.full, 'kept'), '');
  const link = join(dir, `cmd-chat-js-${dead}-linkxx`);
  symlinkSync(paths.other, link);

  assert.deepEqual(sweepStaleStores(dir), [paths.stale]);
  assert.ok(!existsSync(paths.stale), 'the empty one of a dead maker is gone');
  for (const kept of [paths.live, paths.full, paths.other, paths.noPid, link]) {
    assert.ok(existsSync(kept), `${kept} stays`);
  }
  assert.deepEqual(sweepStaleStores(dir), [], 'a second sweep finds nothing');
});

test('the store goes only on a RAM file system: /dev/shm is one, /proc and a missing path are not', (t) => {
  if (process.platform !== 'linux') return t.skip('statfs types are checked on Linux only');
  assert.equal(notInRam('/dev/shm'), undefined);
  assert.match(notInRam('/proc') ?? '', /is not a RAM file system/);
  assert.match(notInRam('/no/such/dir') ?? '', /cannot be examined/);
});
