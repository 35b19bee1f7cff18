/**
 * Daemons the bench runs as they ship, as whole processes it cannot instrument from inside:
 * `cmd-chat serve` itself, an older build of ours, the original Python daemon. Their port is
 * read from what they print; their CPU time and memory from /proc (Linux only: the rows
 * that use this skip elsewhere with a line saying so).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { sleep } from './common.js';

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
