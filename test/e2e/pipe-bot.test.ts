/**
 * The README's echo bot, run exactly as printed (only `host 3000` becomes the test daemon's
 * address; `cmd-chat` is the compiled CLI on PATH): it repeats what members say, and what they
 * say cannot steer it — not `//nick pwned` typed in a client with commands, not `/wipe` or
 * `/quit` lines, not a multi-line message with a command on its second line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { type DaemonProcess, runClient, startDaemonProcess, startJsonReader } from '../helpers/processes.js';
import { cmdChatOnPath, runShell } from '../helpers/shell.js';

const ENV = { CMD_CHAT_PASSWORD: 'bot-pw' };

/** The shell block between the README's bot markers. */
function readmeBot(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = /<!-- bot:start -->\n```sh\n([\s\S]*?)```\n<!-- bot:end -->/.exec(readme);
  assert.ok(block, 'README has the bot block');
  return block[1]!;
}

function hasJq(): boolean {
  try {
    execFileSync('jq', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let daemon: DaemonProcess;
let bin: { dir: string; path: string };
before(async () => {
  daemon = await startDaemonProcess([], ENV);
  bin = cmdChatOnPath();
});
after(async () => {
  await daemon.stop();
  rmSync(bin.dir, { recursive: true, force: true });
});

test("the README's echo bot repeats every message and cannot be steered", async () => {
  // .ci/run installs jq; a machine without it fails here rather than skipping the promise.
  assert.ok(hasJq(), 'jq is needed (apt-get install jq)');
  const script = readmeBot();
  assert.equal(script.match(/host 3000/g)?.length, 2, script);
  const watcher = await startJsonReader(['127.0.0.1', String(daemon.port), 'watcher'], ENV);
  // It runs until the test stops it (SIGINT below); the timeout is only a safety net.
  const bot = runShell(
    script.replaceAll('host 3000', `127.0.0.1 ${daemon.port}`),
    { ...ENV, PATH: bin.path },
    600_000,
  );
  /** The watcher's wait, with what the bot said on stderr when it fails. */
  const waitBot = async (
    pred: (evs: Array<Record<string, unknown>>) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<void> => {
    try {
      await watcher.waitFor(pred, what, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nthe bot's stderr: ${bot.stderr()}`);
    }
  };
  try {
    const joined = (name: string) => (evs: Array<Record<string, unknown>>) =>
      evs.some((e) => e.type === 'join' && e.user === name);
    // Three processes start (two clients and jq): on a busy machine that takes a while.
    await waitBot(joined('echo-in'), 'the bot reading', 90_000);
    await waitBot(joined('echo'), 'the bot sending', 90_000);
    // A member with commands on types what a REPL user would: `//x` sends the text `/x`.
    const typed = await runClient(['127.0.0.1', String(daemon.port), 'mallory', '--commands'], {
      input: 'hello bot\n//nick pwned\n//quit gotcha\n//wipe\n//q\n',
      env: ENV,
    });
    assert.equal(typed.code, 0, typed.stderr);
    // A script sends its lines as they are, and one message of several lines.
    const piped = await runClient(['127.0.0.1', String(daemon.port), 'trudy', '--null'], {
      input: '//nick pwned2\0/wipe\0two lines\n/quit now\0',
      env: ENV,
    });
    assert.equal(piped.code, 0, piped.stderr);
    const said = [
      'hello bot',
      '/nick pwned',
      '/quit gotcha',
      '/wipe',
      '/q',
      '//nick pwned2',
      '/wipe',
      'two lines\n/quit now',
    ];
    const echoed = (): unknown[] =>
      watcher
        .events()
        .filter((e) => e.type === 'message' && e.user === 'echo')
        .map((e) => e.text);
    await waitBot(() => echoed().length >= said.length, 'the echoes', 60_000);
    assert.deepEqual(echoed(), said);
    const steered = watcher
      .events()
      .filter(
        (e) =>
          e.type === 'rename' ||
          e.type === 'cleared' ||
          (e.type === 'leave' && e.user !== 'mallory' && e.user !== 'trudy'),
      );
    assert.deepEqual(steered, []);
    // Still there and still echoing.
    const last = await runClient(['127.0.0.1', String(daemon.port), 'mallory'], {
      input: 'still there?\n',
      env: ENV,
    });
    assert.equal(last.code, 0, last.stderr);
    await watcher.waitFor(() => echoed().includes('still there?'), 'the last echo');
  } finally {
    await watcher.stop();
    // SIGINT to the whole pipeline, as Ctrl-C in the shell would.
    try {
      process.kill(-bot.pid, 'SIGINT');
    } catch {
      // already gone
    }
    await bot.done;
  }
});
