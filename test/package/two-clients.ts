/**
 * Smoke test of an installed or standalone `cmd-chat`: a daemon and two clients, all three
 * run through the command given on the command line. A reader joins with --json --follow, a
 * writer pipes one line; exits 0 once the reader has received it, 1 otherwise.
 * Usage: node dist/test/package/two-clients.js COMMAND [ARG…]   (run by .ci/package-check)
 */
import { randomBytes } from 'node:crypto';
import { freePort, spawnCaptured } from '../helpers/processes.js';

const [command, ...prefix] = process.argv.slice(2);
if (!command) throw new Error('usage: two-clients.js COMMAND [ARG…]');
const env = { CMD_CHAT_PASSWORD: randomBytes(12).toString('hex') };
const line = `hello from ${randomBytes(4).toString('hex')}`;

async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

const port = String(await freePort());
const daemon = spawnCaptured(command, [...prefix, 'serve', '127.0.0.1', port], env);
const reader = { current: undefined as ReturnType<typeof spawnCaptured> | undefined };
try {
  await until(() => /listening on/.test(daemon.stderr()), `the daemon:\n${daemon.stderr()}`);
  const bob = spawnCaptured(
    command,
    [...prefix, 'connect', '127.0.0.1', port, 'bob', '--json', '--follow', '--history'],
    env,
  );
  reader.current = bob;
  bob.proc.stdin.end();
  // Whether bob joins before or after alice speaks, he gets the line (live or from history).
  const alice = spawnCaptured(command, [...prefix, 'connect', '127.0.0.1', port, 'alice'], env);
  alice.proc.stdin.end(`${line}\n`);
  const code = await alice.exited;
  if (code !== 0) throw new Error(`alice exited ${code}: ${alice.stderr()}`);
  await until(() => bob.stdout().includes(line), `bob to receive the line:\n${bob.stdout()}`);
  process.stdout.write(`two-client session ok (${command})\n`);
} catch (err) {
  process.stderr.write(`two-client session failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  reader.current?.proc.kill();
  daemon.proc.kill();
}
