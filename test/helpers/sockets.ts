/**
 * Which process holds the daemon's end of each TCP connection (Linux, from /proc): lets the
 * tests and the benchmark tell on which worker of `serve --workers` a client landed, and
 * check that both workers serve members.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Socket inodes of established connections whose local port is `port`, by remote port. */
function establishedOn(port: number): Map<number, string> {
  const byRemote = new Map<number, string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '01') continue; // 01: ESTABLISHED
      const local = Number.parseInt(f[1]!.split(':')[1]!, 16);
      const remote = Number.parseInt(f[2]!.split(':')[1]!, 16);
      if (local === port) byRemote.set(remote, f[9]!);
    }
  }
  return byRemote;
}

/** The socket inodes a process holds. */
function socketsOf(pid: number): Set<string> {
  const out = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * For each of `pids`, the remote (client) ports of the connections it serves on `port`.
 */
export function connectionsByPid(port: number, pids: number[]): Map<number, number[]> {
  const byRemote = establishedOn(port);
  const result = new Map<number, number[]>();
  for (const pid of pids) {
    const held = socketsOf(pid);
    result.set(
      pid,
      [...byRemote].filter(([, inode]) => held.has(inode)).map(([remote]) => remote),
    );
  }
  return result;
}

/** Whether a process exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
