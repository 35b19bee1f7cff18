/**
 * Promise 1: nothing touches disk. A real daemon and real clients (pipe mode, and the REPL
 * in a pseudo-terminal when it is built) run a whole session under `strace -f`, tracing every
 * system call that creates, opens for writing, renames, removes or truncates a path. Any such
 * call outside /dev, /proc and /sys fails the test; in --socket mode the socket path itself is
 * the one allowed entry (created by bind(), which is not a file write, and removed on exit).
 * strace's output goes to a pipe (its stderr), never to a file. Without strace on Linux the test
 * fails with a clear message (CI installs it); on other systems it is skipped.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { builtCli } from '../helpers/paths.js';
import { freePort, spawnCaptured } from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';
import { STRACE_ARGS, tracee, violations } from '../helpers/strace.js';
import { skipWithoutTools } from '../helpers/system-tools.js';

// The suite's runner gives its processes a V8 compile cache on disk (test/run.ts): what runs
// here runs as a user runs it, without one.
delete process.env.NODE_COMPILE_CACHE;

const PASSWORD = 'no-disk-password';

interface Traced {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  trace(): string;
  exited: Promise<number | null>;
}

/**
 * Runs `node builtCli ...args` under strace. strace writes its trace to its stderr (a pipe
 * to us), not to a file: `-o` would need a path, and Node's stdio pipes are socket pairs
 * that cannot be reopened through /proc/self/fd.
 */
function traced(args: string[], env: NodeJS.ProcessEnv = {}): Traced {
  const c = spawnCaptured('strace', [...STRACE_ARGS, process.execPath, builtCli, ...args], env);
  // strace shares stderr with the traced program; its lines are told apart by their shape.
  return { proc: c.proc, stdout: c.stdout, stderr: c.stderr, trace: c.stderr, exited: c.exited };
}

test('the violation parser flags writes and accepts reads (self-check)', () => {
  const sample = [
    '123 openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3',
    '123 openat(AT_FDCWD, "/dev/null", O_RDWR|O_CLOEXEC) = 4',
    '123 openat(AT_FDCWD, "/home/u/.node_repl_history", O_WRONLY|O_CREAT|O_APPEND, 0600) = 5',
    '124 unlink("/tmp/x.sock") = 0',
    '124 mkdir("/tmp/cache", 0777) = -1 EEXIST (File exists)',
    '125 renameat2(AT_FDCWD, "/tmp/a", AT_FDCWD, "/tmp/b", 0) = 0',
    '126 openat(AT_FDCWD, "/proc/self/fd/3", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4',
  ].join('\n');
  const bad = violations(sample, ['/tmp/x.sock']);
  assert.equal(bad.length, 3);
  assert.match(bad[0]!, /node_repl_history/);
  assert.match(bad[1]!, /mkdir/);
  assert.match(bad[2]!, /renameat2/);
});

async function waitOutput(t: Traced, pattern: RegExp, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    () => pattern.test(t.stdout()) || pattern.test(t.stderr()),
    `${what}\nstdout:${t.stdout()}\nstderr:${t.stderr()}`,
    timeoutMs,
  );
}

/** Daemon + clients for one whole session; returns every trace. */
async function session(
  mode: 'tcp' | 'socket',
  withRepl: boolean,
): Promise<{ traces: string[]; socketPath?: string }> {
  const dir = mode === 'socket' ? mkdtempSync(join(tmpdir(), 'cmd-chat-nodisk-')) : undefined;
  const socketPath = dir ? join(dir, 'chat.sock') : undefined;
  const port = await freePort();
  const target = socketPath ? ['--socket', socketPath] : ['127.0.0.1', String(port)];
  const env = { CMD_CHAT_PASSWORD: PASSWORD };
  const daemon = traced(
    socketPath
      ? ['serve', '--socket', socketPath, '--room', `chat=${PASSWORD}`]
      : ['serve', '127.0.0.1', String(port), '--room', `chat=${PASSWORD}`],
  );
  const all: Traced[] = [daemon];
  let pty: import('@lydell/node-pty').IPty | undefined;
  try {
    await waitFor(
      () => /listening on/.test(daemon.stderr()),
      `the daemon to listen: ${daemon.stderr()}`,
      30_000,
    );
    // A reader: --follow prints the others' messages, --history those sent before it joined.
    const bob = traced(['connect', ...target, 'bob', '--follow', '--history'], env);
    all.push(bob);
    let screen = '';
    if (withRepl) {
      const nodePty = await import('@lydell/node-pty');
      pty = nodePty.spawn(
        'strace',
        [...STRACE_ARGS, process.execPath, builtCli, 'connect', ...target, 'carol'],
        {
          name: 'xterm-256color',
          cols: 100,
          rows: 30,
          env: { ...process.env, ...env, HOME: process.env.HOME ?? '/root' },
        },
      );
      pty.onData((s) => (screen += s));
    }
    const alice = traced(['connect', ...target, 'alice', '--commands'], env);
    all.push(alice);
    alice.proc.stdin!.end('hello from alice\n/nick alice2\nsecond line\n');
    assert.equal(await alice.exited, 0, `alice failed: ${alice.stderr()}`);
    await waitOutput(bob, /second line/, 'bob to receive the messages');
    if (pty) {
      await waitFor(() => /second line/.test(screen), `the REPL to show the messages: ${screen}`, 30_000);
      pty.write('hi from the repl\r');
      await waitOutput(bob, /hi from the repl/, 'bob to receive the REPL message');
      pty.write('/quit\r');
      const p = pty;
      await new Promise<void>((resolve) => p.onExit(() => resolve()));
    }
    bob.proc.stdin!.end();
    // --follow runs until SIGINT; signal bob itself, not strace.
    const bobPid = tracee(bob.proc.pid!);
    assert.ok(bobPid, 'the traced bob process was not found');
    process.kill(bobPid, 'SIGINT');
    assert.equal(await bob.exited, 0, `bob failed: ${bob.stderr()}`);
    // Signal the daemon itself, not strace (which would kill its tracee).
    const nodePid = tracee(daemon.proc.pid!);
    assert.ok(nodePid, 'the traced daemon process was not found');
    process.kill(nodePid, 'SIGTERM');
    assert.equal(await daemon.exited, 0, `daemon: ${daemon.stderr()}`);
    const traces = all.map((t) => t.trace());
    if (pty) {
      // The pty variant's strace wrote to the terminal (its stderr): keep only the trace lines.
      traces.push(screen.replace(/\r/g, ''));
      assert.match(screen, /openat\(/, 'sanity: strace traced the REPL client');
    }
    return { traces, ...(socketPath ? { socketPath } : {}) };
  } finally {
    for (const t of all) if (t.proc.exitCode === null) t.proc.kill('SIGKILL');
    try {
      pty?.kill('SIGKILL');
    } catch {
      // Already gone.
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

function replBuilt(): boolean {
  return existsSync(join(builtCli, '..', '..', 'lib', 'client', 'repl', 'repl.js'));
}

test('nothing touches disk: daemon and two pipe-mode clients over TCP under strace', async (t) => {
  if (process.platform !== 'linux') return t.skip('strace exists only on Linux');
  if (skipWithoutTools(t, 'strace')) return;
  const { traces } = await session('tcp', false);
  const [daemonTrace] = traces;
  assert.match(daemonTrace!, /openat\(/, 'sanity: strace saw the daemon open files');
  for (const trace of traces) {
    const bad = violations(trace);
    assert.deepEqual(bad, [], `file system writes:\n${bad.join('\n')}`);
  }
});

test('nothing touches disk: --socket mode, the socket path is the only entry', async (t) => {
  if (process.platform !== 'linux') return t.skip('strace exists only on Linux');
  if (skipWithoutTools(t, 'strace')) return;
  const { traces, socketPath } = await session('socket', false);
  for (const trace of traces) {
    // The Unix transport binds a hidden temporary name beside PATH and hard-links it to PATH
    // (no window in which PATH is someone else's), then removes the temporary name: both are
    // socket entries made by bind(), not file contents.
    const temp = new RegExp(
      `^${dirname(socketPath!).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.[0-9a-f]{8}$`,
    );
    const bad = violations(trace, [socketPath!, temp]);
    assert.ok(trace.length > 0);
    assert.deepEqual(bad, [], `file system writes:\n${bad.join('\n')}`);
  }
});

test('nothing touches disk: a REPL client in a pseudo-terminal', async (t) => {
  if (process.platform !== 'linux') return t.skip('strace exists only on Linux');
  if (!replBuilt()) return t.skip('lib/client/repl/repl.ts is not built yet');
  if (skipWithoutTools(t, 'strace')) return;
  const { traces } = await session('tcp', true);
  for (const trace of traces) {
    const bad = violations(trace);
    assert.deepEqual(bad, [], `file system writes:\n${bad.join('\n')}`);
  }
});
