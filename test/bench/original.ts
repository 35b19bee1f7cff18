/**
 * Side by side with the original (emilycodestar/cmd-chat, the Python daemon this project
 * started from), same machine, same probe: 100 members of one room each send 60 messages, one
 * message per record, while everyone reads; the daemon's CPU from /proc over the fan-out
 * window (first send → every member has all 6,000), divided by the 600,000 deliveries. Ours is
 * `cmd-chat serve` as it ships (v3: every record sealed and tagged); the original relays
 * plaintext JSON lines. Target (issue 23): ours at most half the original's. Peak RSS of both
 * from /proc too.
 *
 * The original is not part of this repository and CI cannot fetch it: CMD_CHAT_BENCH_ORIGINAL
 * names a checkout of it; its Python needs only Debian's python3-srp (CMD_CHAT_BENCH_PYTHON,
 * default /usr/bin/python3). Without either, the row skips with a line saying why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Fernet } from '../../lib/crypto/fernet.js';
import { clientHandshake } from '../../lib/protocol/handshake-client.js';
import { median, round, sleep } from './common.js';
import {
  type ExternalDaemon,
  procCpuMs,
  procMemory,
  procReadable,
  startExternal,
  startServe,
} from './external.js';
import { type BenchContext, PASSWORD } from './harness.js';
import { LineSplitter, SecureMember } from './wire.js';

export const ORIGINAL_ENV = 'CMD_CHAT_BENCH_ORIGINAL';
export const PYTHON_ENV = 'CMD_CHAT_BENCH_PYTHON';
const MEMBERS = 100;
const PER_MEMBER = 60;
const EACH = MEMBERS * PER_MEMBER;
const RUNS = 3;
const BODY = 'x'.repeat(64);

/** One probe's figures: CPU per delivery (µs), RSS at the end of the window and peak RSS (MB). */
interface Probe {
  us: number;
  rss: number;
  peak: number;
}

/** A member of the original daemon: its handshake (our --original-protocol code), then lines. */
class OriginalMember {
  count = 0;
  private constructor(private readonly sock: net.Socket) {}

  static async join(port: number, username: string): Promise<OriginalMember> {
    const sock = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const member = new OriginalMember(sock);
    const lines: Record<string, unknown>[] = [];
    let wake: (() => void) | undefined;
    const splitter = new LineSplitter();
    let handshaking = true;
    sock.on('data', (chunk: Buffer) =>
      splitter.push(chunk, (line) => {
        if (handshaking) {
          lines.push(JSON.parse(line.toString('utf8')) as Record<string, unknown>);
          wake?.();
        } else if (line.subarray(0, 20).toString('latin1').startsWith('{"type": "message"')) member.count++;
      }),
    );
    sock.on('error', () => {});
    await clientHandshake(
      {
        send: (frame) => sock.write(`${JSON.stringify(frame)}\n`),
        next: async () => {
          while (lines.length === 0) await new Promise<void>((resolve) => (wake = resolve));
          return lines.shift()!;
        },
      },
      { room: 'chat', password: PASSWORD, original: true, username },
    );
    handshaking = false;
    return member;
  }

  send(text: string): void {
    this.sock.write(`${JSON.stringify({ type: 'message', text })}\n`);
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Everyone sends its 60 messages, one per write; the daemon's CPU until everyone has all. */
async function fanOutWindow(
  daemon: ExternalDaemon,
  members: { count: number }[],
  send: (i: number, text: string) => void,
): Promise<number> {
  const fernet = new Fernet(Buffer.alloc(32, 7));
  const texts = Array.from({ length: 64 }, () => fernet.encrypt(BODY));
  const base = members.map((m) => m.count);
  const cpu0 = procCpuMs(daemon.pid);
  for (let i = 0; i < members.length; i++) {
    for (let j = 0; j < PER_MEMBER; j++) send(i, texts[j % texts.length]!);
  }
  const deadline = Date.now() + 180_000;
  while (members.some((m, i) => m.count - base[i]! < EACH) && Date.now() < deadline) await sleep(20);
  const cpu1 = procCpuMs(daemon.pid);
  const short = members.filter((m, i) => m.count - base[i]! < EACH).length;
  if (short > 0) throw new Error(`${short} members did not get all ${EACH} messages`);
  return ((cpu1 - cpu0) * 1000) / (EACH * MEMBERS);
}

async function oursOnce(ctx: BenchContext): Promise<Probe> {
  const { daemon, srp } = await startServe(ctx);
  const members: SecureMember[] = [];
  try {
    for (let i = 0; i < MEMBERS; i++) members.push(await SecureMember.join(daemon.port, srp, `m${i}`));
    await sleep(300);
    const us = await fanOutWindow(daemon, members, (i, text) =>
      members[i]!.sendFrames([JSON.stringify({ type: 'message', text })]),
    );
    const { rss, peak } = procMemory(daemon.pid);
    return { us, rss, peak };
  } finally {
    for (const m of members) m.close();
    await daemon.stop();
  }
}

async function originalOnce(root: string, python: string): Promise<Probe> {
  // The package's __init__ imports the client (rich, …): load only the server's modules.
  const script = [
    'import sys, types',
    `sys.path.insert(0, ${JSON.stringify(root)})`,
    "pkg = types.ModuleType('cmd_chat')",
    `pkg.__path__ = [${JSON.stringify(join(root, 'cmd_chat'))}]`,
    "sys.modules['cmd_chat'] = pkg",
    'from cmd_chat.server.server import run_server',
    `run_server('127.0.0.1', 0, ${JSON.stringify(PASSWORD)})`,
  ].join('\n');
  const daemon = await startExternal(python, ['-u', '-c', script], {
    portLine: /Server running on 127\.0\.0\.1:(\d+)/,
  });
  const members: OriginalMember[] = [];
  try {
    for (let i = 0; i < MEMBERS; i++) members.push(await OriginalMember.join(daemon.port, `m${i}`));
    await sleep(300);
    const us = await fanOutWindow(daemon, members, (i, text) => members[i]!.send(text));
    const { rss, peak } = procMemory(daemon.pid);
    return { us, rss, peak };
  } finally {
    for (const m of members) m.close();
    await daemon.stop();
  }
}

/** Why the row cannot run here, if it cannot. */
function missing(root: string | undefined, python: string): string | undefined {
  if (!procReadable) return 'the daemons are measured from /proc (Linux only)';
  if (!root || !existsSync(join(root, 'cmd_chat', 'server', 'server.py')))
    return `no checkout of the original (CI cannot fetch it; set ${ORIGINAL_ENV} to one)`;
  const probe = spawnSync(python, ['-c', 'import srp'], { stdio: 'ignore' });
  if (probe.status !== 0)
    return `${python} cannot import srp (apt-get install python3-srp; or set ${PYTHON_ENV})`;
  return undefined;
}

export async function originalRows(ctx: BenchContext): Promise<void> {
  const root = process.env[ORIGINAL_ENV];
  const python = process.env[PYTHON_ENV] ?? '/usr/bin/python3';
  const why = missing(root, python);
  if (why !== undefined) {
    ctx.log(`original: skipped, ${why}`);
    return;
  }
  const commit = spawnSync('git', ['-C', root!, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const name = commit.status === 0 ? commit.stdout.trim() : 'commit unknown';
  ctx.log(`side by side with the original (${name})`);
  const ours: Probe[] = [];
  const theirs: Probe[] = [];
  const ratio: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const o = await oursOnce(ctx);
    const t = await originalOnce(root!, python);
    ours.push(o);
    theirs.push(t);
    ratio.push(o.us / t.us);
  }
  const med = (probes: Probe[], k: keyof Probe): number => median(probes.map((p) => p[k]));
  ctx.add(
    `daemon CPU per delivery, ${MEMBERS} members × ${PER_MEMBER} messages, one per record: cmd-chat serve`,
    round(med(ours, 'us'), 3),
    'µs',
  );
  ctx.add(`  the original (${name}, Python), same probe`, round(med(theirs, 'us'), 3), 'µs');
  ctx.add('ratio ours / the original (per run, same run)', round(median(ratio), 3), '×', '≤ 0.5');
  ctx.add('  RSS after the fan-out: cmd-chat serve', round(med(ours, 'rss'), 1), 'MB');
  ctx.add('  RSS after the fan-out: the original', round(med(theirs, 'rss'), 1), 'MB');
  ctx.add('  peak RSS: cmd-chat serve (its start-up scrypt included)', round(med(ours, 'peak'), 1), 'MB');
  ctx.add('  peak RSS: the original', round(med(theirs, 'peak'), 1), 'MB');
}
