/**
 * Runs every compiled `*.test.js` under this folder with node's test runner. Node 20 has no
 * glob support in `--test`, and given a folder it would also run helpers and benchmarks.
 * A compiled test whose source is gone (the build is incremental) is not run.
 * Usage: node dist/test/run.js [filter…] (a filter keeps files whose path contains it).
 * Tests that need a program outside npm (test/helpers/system-tools.ts) are skipped where it is
 * missing, and the run ends with a line naming what is missing and how to install it; under
 * `CI=true` a missing program stops the run before it starts.
 * Every process of the run (test files, the daemons and clients they start) shares one V8
 * compile cache in a temporary folder, removed at the end: see COMPILE_CACHE below.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { treeCpuMs } from './helpers/file-usage.js';
import { INSTALL_COMMAND, missingTools } from './helpers/system-tools.js';

const root = dirname(fileURLToPath(import.meta.url));
const sources = join(root, '..', '..', 'test');

const hasSource = (compiled: string): boolean =>
  existsSync(join(sources, relative(root, compiled)).replace(/\.js$/, '.ts'));

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(path));
    else if (entry.name.endsWith('.test.js')) found.push(path);
  }
  return found;
}

/**
 * The files that take longest, longest first (a full run with SUITE_TIMES=1 lists them). The
 * runner starts files in the order given: a long file started last would run alone at the end
 * while the other cores idle, so these go first and the short ones fill in around them.
 */
const SLOW_FIRST = [
  'security/bad-input.test.js',
  'cluster/daemons.test.js',
  'cluster/workers-nats-restart.test.js',
  'e2e/pipe.test.js',
  'faults/reconnect-cli.test.js',
  'cluster/failover.test.js',
  'cluster/faults.test.js',
  'e2e/pipe-data.test.js',
  'cluster/reconnect.test.js',
  'e2e/cli.test.js',
  'cluster/workers.test.js',
  'client/repl.test.js',
  'e2e/connect-flow.test.js',
  'faults/separate-cuts.test.js',
  'client/repl-screen.test.js',
  'e2e/identity.test.js',
  'e2e/pipe-rooms.test.js',
  'e2e/transports.test.js',
  'cluster/follow-cuts.test.js',
  'faults/faults.test.js',
  'server/daemon.test.js',
  'security/queues.test.js',
].map((file) => join(root, file));

const rank = (file: string): number => {
  const i = SLOW_FIRST.indexOf(file);
  return i === -1 ? SLOW_FIRST.length : i;
};

const filters = process.argv.slice(2);
const files = findTests(root)
  .filter(hasSource)
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
if (files.length === 0) {
  process.stderr.write('no test files found\n');
  process.exit(1);
}
const missing = missingTools();
const missingLine =
  missing.length === 0
    ? undefined
    : `system tools missing here: ${missing.map((tool) => tool.name).join(', ')}; the tests that ` +
      `need them were skipped. Install them with \`${INSTALL_COMMAND}\` (Debian, Ubuntu).`;
if (missingLine && process.env.CI) {
  process.stderr.write(`${missingLine}\nCI runs every test: install them first.\n`);
  process.exit(1);
}
// TEST_REPORTER=spec (or tap) gives node's own detailed output instead of the concise one.
const reporter = process.env.TEST_REPORTER ?? join(root, 'reporter.js');
// SUITE_TIMES=1 (or a count of rows) ends the run with the slowest files' wall and CPU times.
const usage = process.env.SUITE_TIMES
  ? ['--import', pathToFileURL(join(root, 'helpers', 'file-usage.js')).href]
  : [];
/**
 * The suite starts several hundred node processes, each compiling the same ~180 modules: with
 * NODE_COMPILE_CACHE (Node 22.1+) each module is compiled once for the whole run and its V8
 * code read back after. A harness folder, never the product's: the CLI sets no cache, and the
 * no-disk tests run it without this one (test/security/no-disk*.test.ts).
 */
const COMPILE_CACHE = 'NODE_COMPILE_CACHE';
const cacheDir = process.env[COMPILE_CACHE] ?? mkdtempSync(join(tmpdir(), 'cmd-chat-test-cache-'));
/**
 * Files at a time: one more than the cores. Most files wait on timers and other processes for
 * part of their time (CPU/wall 0.3-0.8 in a SUITE_TIMES run): with one file a core, 2 cores
 * were 78 % used and a run took 6 min 42 s; with three, 91 % and 5 min 33 s (Node 24).
 * TEST_CONCURRENCY sets another count.
 */
const concurrency = Number(process.env.TEST_CONCURRENCY) || availableParallelism() + 1;
/**
 * A test that waits on what never comes fails after 5 minutes (the slowest file takes under a
 * minute), so that the run ends. Not `--test-force-exit`: on Node 24 it ended srp.test.js
 * with 38 of its 66 tests run, and said nothing of the others. Something a test leaves open
 * (a NATS client reconnecting for ever) still keeps its file from ending: the helpers close
 * what they made, also when making it failed (test/helpers/teardown.ts, jetstream.ts).
 */
const TEST_TIMEOUT = '--test-timeout=300000';
const result = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    TEST_TIMEOUT,
    `--test-reporter=${reporter}`,
    ...usage,
    ...files,
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, [COMPILE_CACHE]: cacheDir },
  },
);
if (process.env[COMPILE_CACHE] === undefined) rmSync(cacheDir, { recursive: true, force: true });
if (usage.length > 0) {
  // Every process of the run, the runner included, was waited for by now.
  const cpuMs = treeCpuMs();
  const wallMs = performance.now();
  if (cpuMs !== undefined) {
    process.stdout.write(
      `the whole run: ${(cpuMs / 1000).toFixed(1)} s of CPU in ${(wallMs / 1000).toFixed(1)} s\n`,
    );
  }
}
if (missingLine) process.stderr.write(`${missingLine}\n`);
process.exit(result.status ?? 1);
