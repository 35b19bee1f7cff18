/**
 * Daemons the bench runs as they ship, as whole processes it cannot instrument from inside:
 * `cmd-chat serve` itself, an older build of ours, the original Python daemon. Their port is
 * read from what they print; their CPU time and memory from /proc (Linux only: the rows
 * that use this skip elsewhere with a line saying so).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { deriveMaster, srpPasswordV2 } from '../../lib/crypto/kdf.js';
import { cliPath } from '../helpers/paths.js';
import { type BenchSecrets, sleep } from './common.js';
import { type BenchContext, PASSWORD } from './harness.js';
import { LineSplitter, SrpRoomClient } from './wire.js';

/** Whether /proc can be read for a child's CPU and memory. */
export const procReadable: boolean = process.platform === 'linux' && existsSync('/proc/self/stat');

/** Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on every Linux the bench runs on). */
const USER_HZ = 100;

/** CPU time (user + system) of process `pid`, in ms. */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

/** Resident memory of process `pid` in MB: all of it, its peak, private (anonymous) and file-backed. */
export interface ProcMemory {
  rss: number;
  peak: number;
  anon: number;
  file: number;
}

export function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  const mb = (field: string): number => kb(field) / 1024;
  return { rss: mb('VmRSS'), peak: mb('VmHWM'), anon: mb('RssAnon'), file: mb('RssFile') };
}

/** A daemon process started for a row. */
export interface ExternalDaemon {
  proc: ChildProcess;
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts `command args` and waits until its output matches `portLine` (first group: the port).
 * `stdin` is written then closed. The process is killed (SIGTERM, then SIGKILL) by stop().
 */
export async function startExternal(
  command: string,
  args: string[],
  options: { portLine: RegExp; stdin?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ExternalDaemon> {
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  proc.stdin.end(options.stdin ?? '');
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} printed no port in time: ${output.slice(-300)}`)),
      options.timeoutMs ?? 15_000,
    );
    const seen = (d: Buffer): void => {
      output += d.toString();
      const m = options.portLine.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout.on('data', seen);
    proc.stderr.on('data', seen);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}): ${output.slice(-300)}`));
    });
  });
  // Keep reading so a chatty daemon never blocks on a full pipe.
  proc.stdout.resume();
  proc.stderr.resume();
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  return { proc, pid: proc.pid!, port, stop };
}

/** What `serve` needs to admit 100 members from 127.0.0.1 at once and take their burst. */
const SERVE_LIMITS = [
  '--max-per-address', '4096',
  '--max-pending', '512',
  '--handshake-rate', '0',
  '--join-rate', '0',
  '--rate', '0',
  '--rate-bytes', '0',
  '--room-rate-bytes', '0',
]; // biome-ignore format: flag, value pairs

/** The secrets of `room` on the daemon at `port`: its salt from one srp_init, then one scrypt. */
async function secretsFromSalt(port: number, room: string, dummy: SrpRoomClient): Promise<BenchSecrets> {
  const sock = net.connect({ host: '127.0.0.1', port });
  const line = await new Promise<string>((resolve, reject) => {
    const splitter = new LineSplitter();
    sock.on('data', (chunk: Buffer) => splitter.push(chunk, (l) => resolve(l.toString('utf8'))));
    sock.on('error', reject);
    sock.on('close', () => reject(new Error('the daemon closed the connection before the challenge')));
    const { A } = dummy.ephemeral();
    sock.write(`${JSON.stringify({ cmd: 'srp_init', v: 3, room, A: A.toString('base64') })}\n`);
  });
  sock.destroy();
  const master = await deriveMaster(PASSWORD, Buffer.from(String(JSON.parse(line).salt), 'base64'));
  return { master: master.toString('base64'), srpPassword: srpPasswordV2(master).toString('base64') };
}

/**
 * `cmd-chat serve` as it ships (the built bin): room "chat" with the bench password from the
 * environment, limits raised for 100 members from one address; and an SRP client for it (the
 * room's key derived once, from the salt it answers).
 */
export async function startServe(ctx: BenchContext): Promise<{ daemon: ExternalDaemon; srp: SrpRoomClient }> {
  const daemon = await startExternal(process.execPath, [cliPath, 'serve', '--port', '0', ...SERVE_LIMITS], {
    portLine: /listening on 127\.0\.0\.1:(\d+)/,
    env: { ...process.env, CMD_CHAT_PASSWORD: PASSWORD },
  });
  try {
    await ctx.secrets();
    const secrets = await secretsFromSalt(daemon.port, 'chat', ctx.srp('idle0'));
    return { daemon, srp: new SrpRoomClient('chat', secrets, 4) };
  } catch (err) {
    await daemon.stop();
    throw err;
  }
}
