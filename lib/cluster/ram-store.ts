/**
 * A store directory in RAM for a nats-server with JetStream. Even when every stream and
 * bucket is memory-only, nats-server creates directories in its store directory, and three
 * clustered servers write JetStream's meta log (`$SYS/_js_/_meta_/msgs/1.blk`) there; without
 * a `store_dir` it would use /tmp/nats. So the store directory is a fresh tmpfs of its own:
 * as root, the server runs in a private mount namespace (`unshare -m`) with a tmpfs mounted
 * over a 0700 directory under /dev/shm, invisible to every other process and freed by the
 * kernel when the server exits, even by SIGKILL; otherwise the 0700 directory under /dev/shm
 * itself (already a tmpfs), removed on stop. Linux only: elsewhere there is no /dev/shm.
 * The directory's name carries the pid of the process that made it: a process killed before
 * it could remove it (SIGKILL) leaves an empty directory behind, which the next start sweeps
 * (ours only: our prefix, our user, empty, its maker dead).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

/** Where the directory is made: a tmpfs on Linux systems (checked before use: `notInRam`). */
const SHM = '/dev/shm';
/** statfs magic numbers of the file systems that live in RAM: tmpfs and ramfs. */
const RAM_FS_TYPES: ReadonlySet<number> = new Set([0x01021994, 0x858458f6]);
const PREFIX = 'cmd-chat-js-';
/** `cmd-chat-js-<pid of its maker>-<mkdtemp's six characters>`. */
const STORE_NAME = /^cmd-chat-js-(\d+)-[A-Za-z0-9]{6}$/;
/**
 * bash that runs no startup file: started by a daemon with a socket for stdin (Node's pipes)
 * and no SHLVL (systemd, cron, a container), bash takes itself for a remote shell and runs
 * ~/.bashrc, whatever it does (one here ran `pyenv rehash`, which writes files). The caller
 * also leaves BASH_ENV out of its environment (see shellEnv).
 */
export const PLAIN_BASH = ['bash', '--norc', '--noprofile'] as const;

/** `env` without what makes a non-interactive shell run a file first (BASH_ENV, ENV). */
export function shellEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { BASH_ENV: _bashEnv, ENV: _env, ...rest } = env;
  return rest;
}

/** The private tmpfs's size cap; JetStream's own `max_memory_store` bounds the streams. */
const TMPFS_SIZE = '64m';

/**
 * Mounts the tmpfs over `$2` (size `$1`) without touching /etc/mtab or /run/mount (`-n`),
 * then becomes the command that follows. Runs inside `unshare -m --propagation private`.
 */
const MOUNT_THEN_EXEC = 'mount -n -t tmpfs -o "mode=0700,size=$1" tmpfs "$2" && shift 2 && exec "$@"';

export interface RamStore {
  /** The store directory for the server's `jetstream { store_dir }`. */
  readonly dir: string;
  /** True when the directory is a private tmpfs (a mount namespace of the server's own). */
  readonly private: boolean;
  /** The command that runs `command` with the store in place. */
  wrap(command: readonly string[]): string[];
  /** Removes the directory (and whatever a non-private store left in it). */
  remove(): void;
}

/** Whether this process may make a private mount namespace with a tmpfs in it. */
function canUnshare(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['-m', '--propagation', 'private', 'true']).status === 0;
}

let unshareWorks: boolean | undefined;

/** Makes the store; throws a one-line error where there is no RAM file system to use. */
export function ramStore(): RamStore {
  if (process.platform !== 'linux' || !existsSync(SHM)) {
    throw new Error(`JetStream needs a store directory in RAM, and ${SHM} is missing here`);
  }
  // A system may mount a disk there (or nothing, leaving a plain directory on the root disk).
  const problem = notInRam(SHM);
  if (problem) throw new Error(`JetStream needs a store directory in RAM, and ${problem}`);
  unshareWorks ??= canUnshare();
  const isPrivate = unshareWorks;
  sweepStaleStores();
  const dir = mkdtempSync(join(SHM, `${PREFIX}${process.pid}-`));
  return {
    dir,
    private: isPrivate,
    wrap: (command) =>
      isPrivate
        ? [
            'unshare',
            '-m',
            '--propagation',
            'private',
            ...PLAIN_BASH,
            '-c',
            MOUNT_THEN_EXEC,
            'bash',
            TMPFS_SIZE,
            dir,
            ...command,
          ]
        : [...command],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Why `path` cannot hold the store (undefined: it is on tmpfs or ramfs). */
export function notInRam(path: string): string | undefined {
  let type: number;
  try {
    type = statfsSync(path).type;
  } catch {
    return `${path} cannot be examined`;
  }
  return RAM_FS_TYPES.has(type) ? undefined : `${path} is not a RAM file system (tmpfs)`;
}

/** Whether process `pid` exists (one of another user's counts as existing). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the store directories under `dir` that a killed process left: named by our prefix
 * with the pid of their maker, a real directory (not a link) of this user, empty, and whose
 * maker is gone. Anything else is left alone; nothing here throws. Returns what it removed.
 */
export function sweepStaleStores(dir: string = SHM): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const match = STORE_NAME.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    const path = join(dir, name);
    try {
      const stat = lstatSync(path);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
      if (pid === process.pid || alive(pid) || readdirSync(path).length > 0) continue;
      rmdirSync(path); // fails, harmlessly, if something appeared in it meanwhile
      removed.push(path);
    } catch {
      // gone meanwhile, or not ours to read: leave it
    }
  }
  return removed;
}

/** The `jetstream` block of a nats-server configuration: memory storage only, store in RAM. */
export function jetStreamConfig(storeDir: string, maxMemory = '256MB'): string {
  return `jetstream { store_dir: ${JSON.stringify(storeDir)}, max_memory_store: ${maxMemory}, max_file_store: 0 }\n`;
}
