/**
 * Tracing for the no-disk tests: the system calls that create, open for writing, rename,
 * remove or truncate a path, a check that strace runs, a parser that lists every such
 * call outside /dev, /proc and /sys (and the paths a test allows), and the pid of the
 * process strace traces (to signal it rather than strace).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const SYSCALLS = [
  'open',
  'openat',
  'openat2',
  'creat',
  'rename',
  'renameat',
  'renameat2',
  'unlink',
  'unlinkat',
  'rmdir',
  'mkdir',
  'mkdirat',
  'mknod',
  'mknodat',
  'truncate',
  'link',
  'linkat',
  'symlink',
  'symlinkat',
];
const WRITE_FLAGS = /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND|O_TMPFILE/;
const ALLOWED_PREFIXES = ['/dev/', '/proc/', '/sys/'];

/** strace's arguments before the traced command: follow children, trace only SYSCALLS. */
export const STRACE_ARGS: string[] = ['-f', '-qq', '-s', '256', '-e', `trace=${SYSCALLS.join(',')}`];

/** Why strace cannot be used here (undefined: it can, or this is not Linux). */
export function straceProblem(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const r = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return (
      'strace is not installed (or does not run): the no-disk test needs it. ' +
      'Install it with `apt-get install -y strace` (CI does this in .ci/run).'
    );
  }
  return undefined;
}

/** Every traced call that writes to or changes the file system outside the allowed places. */
export function violations(trace: string, allowedPaths: Array<string | RegExp> = []): string[] {
  const bad: string[] = [];
  for (const line of trace.split('\n')) {
    const m = /^(?:\[pid\s+)?\d*\]?\s*(\w+)\((.*)$/.exec(line.trim());
    if (!m) continue;
    const [, call, rest] = m as unknown as [string, string, string];
    if (!SYSCALLS.includes(call)) continue;
    const paths = [...rest.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((p) => p[1]!);
    const isOpen = call === 'open' || call === 'openat' || call === 'openat2';
    if (isOpen && !WRITE_FLAGS.test(rest)) continue;
    const inside = (p: string): boolean =>
      ALLOWED_PREFIXES.some((prefix) => p.startsWith(prefix)) ||
      allowedPaths.some((a) => (typeof a === 'string' ? a === p : a.test(p)));
    if (paths.length > 0 && paths.every(inside)) continue;
    if (paths.length === 0 && isOpen) continue; // an fd-relative open of nothing named: not seen in practice
    bad.push(line.trim());
  }
  return bad;
}

/** The child of `pid` (strace's tracee), from /proc; undefined when there is none. */
export function tracee(pid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) return Number(entry);
    } catch {
      // the process went away
    }
  }
  return undefined;
}
