/**
 * lib/server/heap.ts: after keepYoungGenerationSmall() a burst that keeps many objects alive
 * across scavenges does not grow V8's young generation (whose grown pages would stay
 * resident); without it the same burst does, so the test can fail. Each case runs in its own
 * node process, as the setting is for the rest of a process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const heapModule = pathToFileURL(
  join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib', 'server', 'heap.js'),
);

/** The young generation's resident bytes after a burst, in a fresh process. */
function youngAfterBurst(keepSmall: boolean): { after: number } {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size;
    if (${keepSmall}) (await import(${JSON.stringify(heapModule.href)})).keepYoungGenerationSmall();
    const live = [];
    for (let r = 0; r < 60; r++) {
      const batch = [];
      for (let i = 0; i < 20000; i++) batch.push({ i, s: 'frame ' + i });
      live.push(batch);
      if (live.length > 5) live.shift();
    }
    process.stdout.write(JSON.stringify({ after: young() }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { after: number };
}

/** V8's initial young generation on 64-bit: two semi-spaces of 1 MiB (it grows to 2 × 16 MiB). */
const INITIAL_YOUNG = 2 * 2 ** 20;

// Usually it stays at exactly INITIAL_YOUNG; once in four full runs, on a loaded machine, V8
// still grew it to 5.3 MB (its own heuristics beside the growth factor). The bound is what the
// setting holds every time: never the 4× and more that V8's default reaches.
test('the young generation stays small through a burst', () => {
  const { after } = youngAfterBurst(true);
  assert.ok(after < 4 * INITIAL_YOUNG, `grew to ${after} bytes`);
});

test('the check can fail: without the setting, the same burst grows it', () => {
  const { after } = youngAfterBurst(false);
  assert.ok(after > 4 * INITIAL_YOUNG, `only ${after} bytes`);
});
