/**
 * Test helpers for end-to-end tests with real processes: the daemon started from the
 * compiled CLI on an ephemeral port, and client processes with real pipes.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { exitWithin } from './deadline.js';
import { builtCli } from './paths.js';
import { ARRIVAL_MS } from './patience.js';

/** `serve` flags that turn off the per-member and per-room pacing (floods in tests and benches). */
export const NO_PACING_FLAGS: readonly string[] = [
  '--rate',
  '0',
  '--rate-bytes',
  '0',
  '--room-rate-bytes',
  '0',
];

/**
 * Ports for tests to listen on are drawn below the system's ephemeral range, where no outgoing
 * connection takes its local port: a port that the system handed out as free (bound to 0) was
 * taken by another test's connection before the daemon could bind it, and the daemon exited.
 * Linux says where its range starts; elsewhere (Windows, macOS) it starts at 49152.
 */
function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    return Number.isInteger(first) ? first : 49152;
  } catch {
    return 49152;
  }
}
const PORTS_FROM = 10_000;
const PORTS_TO = Math.min(ephemeralStart(), 49152) - 1;
/** Ports this process has handed out: none twice. */
const handedOut = new Set<number>();

async function canListen(port: number, host: string): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
  } catch {
    return false;
  }
  server.close();
  await once(server, 'close');
  return true;
}

/**
 * A free loopback TCP port that nothing listens on: a random one below the ephemeral range
 * (see above), or, on a system whose range leaves no room below it, one the system picks.
 * It also serves "connection refused" cases.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; PORTS_TO - PORTS_FROM > 1000 && tries < 50; tries++) {
    const port = randomInt(PORTS_FROM, PORTS_TO + 1);
    if (handedOut.has(port) || !(await canListen(port, host))) continue;
    handedOut.add(port);
    return port;
  }
  const server = net.createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** A child process whose output is collected as it comes. */
export interface Captured {
  proc: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Spawns `command` with pipes on all three streams, NO_COLOR set, and collects its output. */
export function spawnCaptured(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Captured {
  const proc = spawn(command, args, { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  proc.stdin.on('error', () => {});
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** The JSON events a `--json` client has printed so far, one object per line. */
export function jsonEvents(c: Captured): Array<Record<string, unknown>> {
  return c
    .stdout()
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Spawns the compiled CLI (`cmd-chat ARGS…`) beside the tests. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Captured {
  return spawnCaptured(process.execPath, [builtCli, ...args], env);
}

export interface DaemonProcess {
  proc: ChildProcess;
  port: number;
  /** Everything the daemon wrote to stderr so far. */
  stderr(): string;
  stdout(): string;
  /** Sends SIGTERM (or the given signal) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The daemon's start-up log up to its `limits:` line, which every start writes right after
 * `listening on` (commands/serve-startup.ts). The lines after it (PROXY, behind a proxy, the
 * warnings) come in the same turn but may reach us in a later chunk: wait for those.
 */
/** How long a daemon told to stop may take to exit before the test fails (and kills it). */
const STOP_MS = 20_000;

/** How long a starting daemon may go without a new line of its start-up log. */
const START_QUIET_MS = 20_000;
/** How long a start may take in all. */
const START_MAX_MS = 60_000;

const STARTED = /listening on [^\n]*\n(?:.*\n)*?.*limits: [^\n]*\n/;

/**
 * Starts `cmd-chat serve 127.0.0.1 0 ...args` and waits for its start-up lines (to the
 * `limits:` line, so a test may read them at once); its port is the one it says it listens on.
 * Pass `--socket PATH` in args for a Unix socket daemon (port is then 0).
 */
export async function startDaemonProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<DaemonProcess> {
  // Port 0: the daemon binds a free port itself and says which (a port found free beforehand
  // could be taken by another test file's process before the daemon bound it).
  const { proc, stdout, stderr, exited } = spawnCli(['serve', '127.0.0.1', '0', ...args], env);
  await new Promise<void>((resolve, reject) => {
    // A daemon that is late is stopped (SIGTERM stops a --workers tree too): left running, it
    // would keep the test file from ever exiting. Late means silent for START_QUIET_MS: a
    // --workers tree (a nats-server, then each worker) writes a line a step, and on a loaded
    // machine its steps together can take longer than a stalled start may.
    const startedAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const late = (): void => {
      proc.kill('SIGTERM');
      reject(new Error(`daemon did not start:\n${stderr()}`));
    };
    const wait = (): void => {
      clearTimeout(timer);
      timer = setTimeout(late, Math.min(START_QUIET_MS, START_MAX_MS - (performance.now() - startedAt)));
    };
    wait();
    const check = (): void => {
      if (STARTED.test(stderr())) {
        clearTimeout(timer);
        proc.stderr.off('data', check);
        resolve();
      } else wait();
    };
    proc.stderr.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code}:\n${stderr()}`));
    });
  });
  return {
    proc,
    port: Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr())?.[1] ?? 0),
    stderr,
    stdout,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exitWithin({ proc, exited, stderr }, STOP_MS, `the daemon (pid ${proc.pid}, ${signal})`);
    },
  };
}

export interface ClientResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd-chat connect ...args` with `input` piped to stdin (a real pipe), and resolves
 * with its exit code and output. The password goes through the environment by default.
 */
export function runClient(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ClientResult> {
  const { proc, stdout, stderr, exited } = spawnCli(['connect', ...args], options.env);
  if (options.input !== undefined) proc.stdin.end(options.input);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`client timed out\nstdout:${stdout()}\nstderr:${stderr()}`));
    }, options.timeoutMs ?? 30_000);
    void exited.then((code) => {
      clearTimeout(timer);
      // Let the pipes drain.
      setImmediate(() => resolve({ code, stdout: stdout(), stderr: stderr() }));
    });
  });
}

export interface JsonReader {
  /** Parsed NDJSON events received so far. */
  events(): Array<Record<string, unknown>>;
  /** Waits until the events satisfy `pred`. */
  waitFor(
    pred: (events: Array<Record<string, unknown>>) => boolean,
    what?: string,
    timeoutMs?: number,
  ): Promise<void>;
  /** Waits for a message event from `user` and returns its text. */
  waitForMessage(user: string, timeoutMs?: number): Promise<string>;
  stderr(): string;
  /** Ends stdin and sends SIGINT (the way to stop `--follow`); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Resolves with the exit code when the reader exits on its own. */
  exited: Promise<number | null>;
}

/** The events of `--json` output: one JSON object a line, blank lines skipped. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * A pipe-mode `connect … --json --follow` member that records what the room says. `target`
 * is what goes between `connect` and the options (e.g. `127.0.0.1 PORT NAME`). Resolves once
 * the reader is in the room: the answer to its `/who` proves it (a command: `--commands`).
 */
export async function startJsonReader(target: string[], env: NodeJS.ProcessEnv): Promise<JsonReader> {
  const { proc, stdout, stderr, exited } = spawnCli(
    ['connect', ...target, '--json', '--follow', '--commands'],
    env,
  );
  // Each line parsed once: waitFor polls every 20 ms, and re-parsing all of a 10,000-line
  // output each time cost the test process more CPU than the client it watched.
  const parsed: Array<Record<string, unknown>> = [];
  let parsedTo = 0;
  const events = (): Array<Record<string, unknown>> => {
    const text = stdout();
    // A line is whole once its newline came, or once the output has ended.
    const end = proc.stdout.readableEnded ? text.length : text.lastIndexOf('\n') + 1;
    if (end > parsedTo) {
      parsed.push(...jsonLines(text.slice(parsedTo, end)));
      parsedTo = end;
    }
    return [...parsed];
  };
  const waitFor = async (
    pred: (evs: Array<Record<string, unknown>>) => boolean,
    what = 'a condition',
    timeoutMs = 30_000,
  ): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (!pred(events())) {
      if (Date.now() > end || proc.exitCode !== null) {
        throw new Error(
          `reader: ${what} (exit ${proc.exitCode})\nstderr: ${stderr()}\nlast: ${stdout().slice(-500)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  proc.stdin.write('/who\n');
  await waitFor((evs) => evs.some((e) => e.type === 'info'), 'to join', 20_000);
  return {
    events,
    waitFor,
    waitForMessage: async (user, timeoutMs = ARRIVAL_MS) => {
      const isFrom = (e: Record<string, unknown>): boolean => e.type === 'message' && e.user === user;
      await waitFor((evs) => evs.some(isFrom), `a message from ${user}`, timeoutMs);
      return String(events().find(isFrom)!.text);
    },
    stderr,
    stop: async () => {
      proc.stdin.end();
      if (proc.exitCode === null) proc.kill('SIGINT');
      return exitWithin({ proc, exited, stderr }, STOP_MS, 'the --follow reader');
    },
    exited,
  };
}
