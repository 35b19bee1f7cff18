/**
 * Searches another process's memory for a byte string: every readable private or anonymous
 * mapping listed in /proc/PID/maps, read through /proc/PID/mem (Linux only; the caller must be
 * allowed to trace the process, as a parent is). Nothing is written anywhere.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

const CHUNK = 1 << 20;

/** True where /proc/PID/mem can be read (Linux); other systems skip the tests that need it. */
export function canReadProcessMemory(pid: number): boolean {
  try {
    closeSync(openSync(`/proc/${pid}/mem`, 'r'));
    return true;
  } catch {
    return false;
  }
}

/** How many times each needle occurs in the process's writable and anonymous memory. */
export function countInProcessMemory(pid: number, needles: Buffer[]): number[] {
  const counts = needles.map(() => 0);
  const longest = Math.max(...needles.map((n) => n.length));
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of maps) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (r)[w-][x-][ps] \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (!m) continue;
      const path = m[4] ?? '';
      // Heap, stacks and anonymous memory hold what the process made; skip files and [vvar]-like areas.
      if (path !== '' && path !== '[heap]' && !path.startsWith('[stack')) continue;
      const start = BigInt(`0x${m[1]}`);
      const end = BigInt(`0x${m[2]}`);
      let carry = Buffer.alloc(0);
      for (let at = start; at < end; at += BigInt(CHUNK)) {
        const size = Number(end - at < BigInt(CHUNK) ? end - at : BigInt(CHUNK));
        const buf = Buffer.alloc(size);
        let got = 0;
        try {
          got = readSync(fd, buf, 0, size, at);
        } catch {
          break; // an unreadable area (guard pages): go on with the next mapping
        }
        const window = Buffer.concat([carry, buf.subarray(0, got)]);
        needles.forEach((needle, i) => {
          for (let k = window.indexOf(needle); k !== -1; k = window.indexOf(needle, k + 1)) {
            // Matches that lie wholly in the carried tail were counted in the previous chunk.
            if (k + needle.length > carry.length) counts[i]! += 1;
          }
        });
        carry = Buffer.from(window.subarray(Math.max(0, window.length - (longest - 1))));
      }
    }
  } finally {
    closeSync(fd);
  }
  return counts;
}

/** A string as V8 may hold it: one byte per character (Latin-1) and two (UTF-16LE). */
export function stringForms(text: string): Buffer[] {
  return [Buffer.from(text, 'latin1'), Buffer.from(text, 'utf16le')];
}
