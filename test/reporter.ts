/**
 * A concise node:test reporter: one line per test file (with the time its tests took, to find
 * the slow ones), every failure in full, the tests still running whenever two minutes pass
 * without news (a hang says where it is), the wall time, and a closing `N passed, N failed,
 * N skipped` line. Node's own reporters either print every test (spec, tap) or hide which
 * file failed (dot).
 */
import { availableParallelism } from 'node:os';
import { relative, sep } from 'node:path';
import { inspect } from 'node:util';
import { USAGE_MARK } from './helpers/file-usage.js';

interface TestData {
  name: string;
  nesting: number;
  file?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  details: { duration_ms: number; type?: string; error?: unknown };
}

interface TestEvent {
  type: string;
  data: TestData & { message?: string };
}

const where = (file: string | undefined): string => (file ? relative(process.cwd(), file) : '?');

function describeError(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause ?? error;
  return inspect(cause, { depth: 4, colors: false })
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

/** After this long without an event, the reporter says which tests are still running. */
const STALL_MS = Number(process.env.TEST_STALL_MS) || 120_000;

/** Whether a nesting-0 event is about a whole file (its name is the file's path) rather than a test. */
const isFileLevel = (data: TestData): boolean =>
  data.file !== undefined && (data.file === data.name || data.file.endsWith(`${sep}${data.name}`));

/**
 * The events of `source`, and `undefined` each time STALL_MS passes without one: a test that
 * waits on what never comes otherwise holds the run without a word until its timeout.
 */
async function* withStalls(source: AsyncIterable<TestEvent>): AsyncGenerator<TestEvent | undefined> {
  const events = source[Symbol.asyncIterator]();
  let next = events.next();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => {
      timer = setTimeout(() => resolve('stalled'), STALL_MS);
      timer.unref();
    });
    const first = await Promise.race([next, stalled]);
    clearTimeout(timer);
    if (first === 'stalled') {
      yield undefined;
      continue;
    }
    if (first.done) return;
    yield first.value;
    next = events.next();
  }
}

export default async function* concise(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const started = performance.now();
  // Running files, each with its running top-level test and when that started.
  const running = new Map<string, { test?: string; since: number }>();
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const perFile = new Map<string, { passed: number; failed: number; skipped: number; ms: number }>();
  // SUITE_TIMES: each file's wall and CPU time, from its own process (helpers/file-usage.ts).
  const usage = new Map<string, { wallMs: number; cpuMs: number }>();
  const count = (file: string | undefined) => {
    const key = where(file);
    let entry = perFile.get(key);
    if (!entry) {
      entry = { passed: 0, failed: 0, skipped: 0, ms: 0 };
      perFile.set(key, entry);
    }
    return entry;
  };
  for await (const event of withStalls(source)) {
    if (event === undefined) {
      const now = performance.now();
      for (const [file, r] of running) {
        const test = r.test === undefined ? '' : ` › ${r.test}`;
        yield `still running after ${Math.round((now - r.since) / 1000)} s: ${where(file)}${test}\n`;
      }
      continue;
    }
    const { data } = event;
    // A file's summary comes after its tests' events (on Node 22 its `test:complete` may not).
    if (event.type === 'test:summary' && data?.file !== undefined) running.delete(data.file);
    else if (event.type === 'test:dequeue' && data.nesting === 0 && data.file !== undefined) {
      running.set(
        data.file,
        isFileLevel(data) ? { since: performance.now() } : { test: data.name, since: performance.now() },
      );
    }
    // Suites count through their tests; a file-level entry (nesting 0 with no type) is a test.
    const isSuite = data?.details?.type === 'suite';
    // A file's time: the sum of its top-level tests and suites (file-level hooks aside).
    if ((event.type === 'test:pass' || event.type === 'test:fail') && data.nesting === 0) {
      count(data.file).ms += data.details?.duration_ms ?? 0;
    }
    switch (event.type) {
      case 'test:pass':
        // A skipped suite never runs its tests: it counts as one skipped.
        if (isSuite && !data.skip) break;
        if (data.skip || data.todo) {
          skipped++;
          count(data.file).skipped++;
        } else {
          passed++;
          count(data.file).passed++;
        }
        break;
      case 'test:fail':
        if (isSuite) break;
        if (data.todo) {
          // A known defect, marked todo with its reason: reported, not counted as a failure.
          skipped++;
          count(data.file).skipped++;
          yield `TODO ${where(data.file)} › ${data.name}: failed (${data.todo})\n`;
          break;
        }
        failed++;
        count(data.file).failed++;
        yield `FAIL ${where(data.file)} › ${data.name}\n${describeError(data.details.error)}\n`;
        break;
      case 'test:stderr':
        if (data.message?.startsWith(USAGE_MARK)) {
          usage.set(where(data.file), JSON.parse(data.message.slice(USAGE_MARK.length)));
          break;
        }
        if (process.env.TEST_VERBOSE) yield data.message ?? '';
        break;
      default:
        break;
    }
  }
  for (const [file, c] of [...perFile].sort(([a], [b]) => a.localeCompare(b))) {
    const extra = (c.failed ? `, ${c.failed} failed` : '') + (c.skipped ? `, ${c.skipped} skipped` : '');
    yield `${c.failed ? 'not ok' : 'ok    '} ${file} (${c.passed} passed${extra}; ${(c.ms / 1000).toFixed(1)} s)\n`;
  }
  const wallMs = performance.now() - started;
  if (usage.size > 0) yield* usageSummary(usage, wallMs);
  const seconds = Math.round(wallMs / 1000);
  yield `${perFile.size} files in ${Math.floor(seconds / 60)} min ${seconds % 60} s\n`;
  yield `${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * The slowest files by wall time, each with its CPU (its process and the children it waited
 * for) and their ratio: a file whose CPU is far below its wall time waits (sleeps, timeouts,
 * cut connections); one near or above it computes. Then the whole run's CPU against what its
 * cores could have given in its wall time.
 */
function* usageSummary(
  usage: Map<string, { wallMs: number; cpuMs: number }>,
  wallMs: number,
): Generator<string> {
  const rows = [...usage].sort(([, a], [, b]) => b.wallMs - a.wallMs);
  const shown = Number(process.env.SUITE_TIMES) > 1 ? Number(process.env.SUITE_TIMES) : 15;
  yield `slowest files (wall, CPU of the file and its children, CPU/wall):\n`;
  for (const [file, u] of rows.slice(0, shown)) {
    yield `  ${s(u.wallMs).padStart(8)} ${s(u.cpuMs).padStart(8)}  ${(u.cpuMs / u.wallMs).toFixed(2)}  ${file}\n`;
  }
  const cpu = rows.reduce((sum, [, u]) => sum + u.cpuMs, 0);
  const fileWall = rows.reduce((sum, [, u]) => sum + u.wallMs, 0);
  const cores = availableParallelism();
  yield `all ${rows.length} files: ${s(fileWall)} of file time, ${s(cpu)} of CPU in ${s(wallMs)} ` +
    `of wall time; ${cores} cores could give ${s(cores * wallMs)} (${Math.round((100 * cpu) / (cores * wallMs))}% used)\n`;
}
