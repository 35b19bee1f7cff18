/**
 * Preloaded into every test file's process when SUITE_TIMES is set (test/run.ts): at exit it
 * prints one stderr line with the file's wall time and the CPU (user + system) of the file's
 * process and every child it waited for (daemons, clients, nats-servers), which the reporter
 * (test/reporter.ts) sums up. Wall time alone cannot tell a file that waits from one that
 * computes. The children's CPU comes from /proc (Linux); elsewhere only the file's own is known.
 */
import { readFileSync } from 'node:fs';

/** The prefix of the line the reporter looks for. */
export const USAGE_MARK = 'suite-usage ';

/**
 * The CPU time of this process and of the children it has waited for (Linux: utime, stime,
 * cutime and cstime from /proc, in ticks of 10 ms); undefined where /proc is missing.
 */
export function treeCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

// Only in a test file's process: the test runner's own process loads this too (test/run.ts).
if (process.env.NODE_TEST_CONTEXT) {
  process.on('exit', () => {
    const own = process.cpuUsage();
    const cpuMs = treeCpuMs() ?? (own.user + own.system) / 1000;
    const line = JSON.stringify({ wallMs: Math.round(performance.now()), cpuMs: Math.round(cpuMs) });
    process.stderr.write(`${USAGE_MARK}${line}\n`);
  });
}
