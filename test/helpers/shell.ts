/**
 * Shell pipelines in tests, written as a user types them: a `cmd-chat` on PATH that runs the
 * compiled CLI, and bash to run the pipeline (its PIPESTATUS gives each stage's exit code).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtCli } from './paths.js';

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A directory with a `cmd-chat` script that runs the compiled CLI, to put first on PATH so
 * shell pipelines read as they are documented.
 */
export function cmdChatOnPath(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-bin-'));
  const script = join(dir, 'cmd-chat');
  writeFileSync(script, `#!/bin/sh\nexec '${process.execPath}' '${builtCli}' "$@"\n`);
  chmodSync(script, 0o755);
  return { dir, path: `${dir}:${process.env.PATH ?? ''}` };
}

/**
 * Runs `script` with bash in its own process group (killed whole on timeout); `done` resolves
 * with its exit code and output, `stdout()` and `stderr()` show the output so far; `-pid` is
 * the group.
 */
export function runShell(
  script: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): { done: Promise<ShellResult>; stdout(): string; stderr(): string; pid: number } {
  const sh = spawn('bash', ['-c', script], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  sh.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  sh.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => {
    try {
      process.kill(-sh.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, timeoutMs);
  // 'close', not 'exit': the output is complete only when the pipes have closed.
  const done = once(sh, 'close').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, stdout: out, stderr: err };
  });
  return { done, stdout: () => out, stderr: () => err, pid: sh.pid! };
}
