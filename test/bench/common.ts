/**
 * Shared pieces of the benchmark processes: statistics, the table row type, the room secrets
 * the orchestrator hands to its children, and a tiny request/reply layer over the IPC channel
 * of a forked child (the benchmark writes no files, so every figure travels over IPC).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { deriveMaster, srpPasswordV2 } from '../../lib/crypto/kdf.js';
import { computeVerifier } from '../../lib/crypto/srp.js';

export interface TableRow {
  name: string;
  value: number;
  unit: string;
  /** e.g. '≥ 500' or '≤ 2'; no target: informative figure. */
  target?: string;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What a client process needs to authenticate to the bench rooms (all share one password). */
export interface BenchSecrets {
  /** base64 of the scrypt master key (derived once by the orchestrator). */
  master: string;
  /** base64 of the v2 SRP password p' (from the master). */
  srpPassword: string;
}

/** A static room as the daemon child registers it. */
export interface BenchRoom {
  name: string;
  salt: string;
  verifier: string;
}

/**
 * The secrets of `password` (scrypt once, with a fresh salt) and each of `roomNames` as a static
 * room with that password.
 */
export async function benchRoomSecrets(
  password: string,
  roomNames: readonly string[],
): Promise<{ secrets: BenchSecrets; rooms: BenchRoom[] }> {
  const salt = randomBytes(16);
  const master = await deriveMaster(password, salt);
  const srpPassword = srpPasswordV2(master);
  const secrets: BenchSecrets = {
    master: master.toString('base64'),
    srpPassword: srpPassword.toString('base64'),
  };
  const rooms = roomNames.map((name) => ({
    name,
    salt: salt.toString('base64'),
    verifier: computeVerifier(name, srpPassword, salt).toString('base64'),
  }));
  return { secrets, rooms };
}

/** A request to a child; the child answers with the same `id`. */
export interface Request {
  id: number;
  cmd: string;
  [key: string]: unknown;
}

export type Reply = { id: number; error?: string } & Record<string, unknown>;

let nextId = 1;

/** Sends a request to a forked child and resolves with its reply (rejects on `error` or exit). */
export function rpc<T extends Record<string, unknown>>(
  child: ChildProcess,
  cmd: string,
  args: Record<string, unknown> = {},
  timeoutMs = 120_000,
): Promise<T> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const onMessage = (msg: Reply): void => {
      if (msg.id !== id) return;
      cleanup();
      if (msg.error) reject(new Error(`${cmd}: ${msg.error}`));
      else resolve(msg as unknown as T);
    };
    const onExit = (): void => {
      cleanup();
      reject(new Error(`${cmd}: child exited`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${cmd}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send({ id, cmd, ...args });
  });
}

/** Child side: serves requests with `handlers`, replying with their result or error. */
export function serve(handlers: Record<string, (req: Request) => Promise<Record<string, unknown>>>): void {
  process.on('message', (req: Request) => {
    const handler = handlers[req.cmd];
    if (!handler) {
      process.send?.({ id: req.id, error: `unknown command ${req.cmd}` });
      return;
    }
    handler(req).then(
      (result) => process.send?.({ ...result, id: req.id }),
      (err: unknown) =>
        process.send?.({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** How a group of rows reports one figure to the table. */
export type AddRow = (name: string, value: number, unit: string, target?: string) => void;

/** Runs one group of rows when its module is started by itself (`node dist/test/bench/x.js`). */
export function runRowsAlone(
  moduleUrl: string,
  rows: (add: AddRow, log: (text: string) => void) => Promise<void>,
): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  const found: Array<[string, number, string]> = [];
  rows(
    (name, value, unit) => found.push([name, value, unit]),
    (text) => process.stderr.write(`bench: ${text}\n`),
  ).then(
    () => {
      for (const [name, value, unit] of found) process.stdout.write(`${name}  ${value} ${unit}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
