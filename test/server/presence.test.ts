/**
 * Presence under churn: members joining and leaving in a loop (behind a proxy, where joins are
 * not paced per source) reach a bystander in a bounded number of sealed records per second,
 * and still every join and every leave, in order, with the final member list right.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startDaemonProcess } from '../helpers/processes.js';
import { type RawClient, rawAuthenticated } from '../helpers/raw-client.js';

const PW = 'presence-pw';
const CHURNERS = 4;
/** Join/leave cycles per churner (joins and leaves: four times this, each). */
const CYCLES_EACH = 6;
const INTERVAL_S = 1;

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function cpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

test('members churning: a bystander gets presence in a few records per second, every event, in order', async (t) => {
  const d = await startDaemonProcess([
    '--password',
    PW,
    '--behind-proxy',
    '--presence-interval',
    String(INTERVAL_S),
  ]);
  const clients: RawClient[] = [];
  try {
    const bystander = await rawAuthenticated(d.port, 'chat', PW);
    clients.push(bystander);
    const init = await bystander.join('bystander');
    assert.equal(init.type, 'init');
    // A few more members that only read: each presence record is sealed for each of them.
    for (let i = 0; i < 8; i++) {
      const m = await rawAuthenticated(d.port, 'chat', PW);
      clients.push(m);
      assert.equal((await m.join(`reader${i}`)).type, 'init');
    }
    // Counting starts after a marker: what the readers' joins produced is read first.
    bystander.sendMessage('start', { from: 'bystander' });
    await bystander.nextFrameWhere((f) => f.type === 'message');

    const cpu0 = cpuSeconds(d.proc.pid!);
    const started = performance.now();
    let cycles = 0;
    const churn = async (n: number): Promise<void> => {
      for (let k = 0; k < CYCLES_EACH; k++) {
        const c = await rawAuthenticated(d.port, 'chat', PW);
        const joined = await c.join(`churn${n}x${k}`);
        assert.equal(joined.type, 'init');
        c.destroy();
        cycles++;
      }
    };
    await Promise.all(Array.from({ length: CHURNERS }, (_, n) => churn(n)));
    const elapsed = (performance.now() - started) / 1000;
    const cpu1 = cpuSeconds(d.proc.pid!);

    // The last leaves go out within an interval; a marker message then closes the count.
    await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_S * 1000));
    bystander.sendMessage('end', { from: 'bystander' });
    const frames: Array<Record<string, unknown>> = [];
    let presenceRecords = 0;
    for (;;) {
      const batch = await bystander.nextFrames();
      if (batch.some((f) => f.type === 'user_joined' || f.type === 'user_left')) presenceRecords++;
      frames.push(...batch);
      if (batch.some((f) => f.type === 'message')) break;
    }
    const joins = frames.filter((f) => f.type === 'user_joined').map((f) => String(f.user_id));
    const leaves = frames.filter((f) => f.type === 'user_left').map((f) => String(f.user_id));
    const cpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
    t.diagnostic(
      `${cycles} join/leave cycles in ${elapsed.toFixed(1)} s: ${joins.length + leaves.length} presence frames ` +
        `in ${presenceRecords} records (${(presenceRecords / elapsed).toFixed(1)}/s)` +
        (cpu !== undefined
          ? `; daemon CPU ${(cpu * 1000).toFixed(0)} ms (${((cpu * 1000) / cycles).toFixed(1)} ms per cycle)`
          : ''),
    );
    // Nothing is dropped: every churner was announced, and left, joins before leaves.
    assert.equal(joins.length, cycles, 'every join announced');
    assert.deepEqual([...leaves].sort(), [...joins].sort(), 'every leave announced');
    for (const id of joins) {
      assert.ok(
        frames.findIndex((f) => f.type === 'user_joined' && f.user_id === id) <
          frames.findIndex((f) => f.type === 'user_left' && f.user_id === id),
        'a join before its leave',
      );
    }
    // Batched: after a burst of 4, at most one presence record per interval (and the last).
    const bound = Math.ceil(elapsed / INTERVAL_S) + 5;
    assert.ok(
      presenceRecords <= bound,
      `${presenceRecords} presence records for ${cycles} cycles in ${elapsed.toFixed(1)} s (at most ${bound})`,
    );
  } finally {
    for (const c of clients) c.destroy();
    await d.stop();
  }
});
