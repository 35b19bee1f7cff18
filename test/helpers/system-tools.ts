/**
 * The programs outside npm that some tests drive: which are missing here, and what to do about
 * it. `npm test` on a machine without them skips those tests and ends with a line naming the
 * missing tools and the command that installs them (tools/install-test-tools.sh); under
 * `CI=true` a missing tool fails instead, since a skipped test proves nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { straceProblem } from './strace.js';

/** The command the skip messages name; it installs every tool below (Debian and Ubuntu). */
export const INSTALL_COMMAND = 'sudo tools/install-test-tools.sh';

/** The Python the legacy-interop test runs: Debian's, where apt puts python3-srp. */
export const python: string = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const NATS_CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** The nats-server binary, or undefined when it is not installed. */
export function natsServerBinary(): string | undefined {
  for (const path of NATS_CANDIDATES) if (existsSync(path)) return path;
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'nats-server' : undefined;
}

/** The microsocks binary the SOCKS5 tests start. */
export const microsocksBinary: string = process.env.MICROSOCKS ?? 'microsocks';

export interface SystemTool {
  /** The tool's name, as the skip line prints it. */
  name: string;
  /** The Debian package that provides it. */
  debianPackage: string;
  /** Which tests need it. */
  neededBy: string;
  /** True when it is missing (or does not run) here. */
  missing(): boolean;
}

const found = (command: string, args: string[]): boolean => {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined;
};
const pythonImports = (module: string): boolean =>
  spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 10_000 }).status === 0;

export const SYSTEM_TOOLS: readonly SystemTool[] = [
  {
    name: 'nats-server',
    debianPackage: 'nats-server',
    neededBy: 'the cluster tests',
    missing: () => natsServerBinary() === undefined,
  },
  {
    name: 'microsocks',
    debianPackage: 'microsocks',
    neededBy: 'the SOCKS5 tests',
    missing: () => !found(microsocksBinary, ['-h']),
  },
  {
    name: 'strace',
    debianPackage: 'strace',
    neededBy: 'the no-disk tests',
    missing: () => straceProblem() !== undefined,
  },
  {
    name: 'openssl',
    debianPackage: 'openssl',
    neededBy: 'the NATS TLS tests',
    missing: () => spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0,
  },
  {
    name: 'python3-srp',
    debianPackage: 'python3-srp',
    neededBy: "the test against the original client's libraries",
    missing: () => !pythonImports('srp'),
  },
  {
    name: 'python3-cryptography',
    debianPackage: 'python3-cryptography',
    neededBy: "the test against the original client's libraries",
    missing: () => !pythonImports('cryptography'),
  },
];

const checked = new Map<string, boolean>();

function isMissing(tool: SystemTool): boolean {
  let missing = checked.get(tool.name);
  if (missing === undefined) {
    missing = tool.missing();
    checked.set(tool.name, missing);
  }
  return missing;
}

/** The tools missing on this machine. */
export function missingTools(): SystemTool[] {
  return SYSTEM_TOOLS.filter(isMissing);
}

/** Why tests needing these tools cannot run here (undefined: they can). */
export function toolsProblem(...names: string[]): string | undefined {
  const missing = SYSTEM_TOOLS.filter((tool) => names.includes(tool.name) && isMissing(tool));
  if (missing.length === 0) return undefined;
  const list = missing.map((tool) => tool.name).join(', ');
  return `${list} not installed (${missing[0]!.neededBy} need it): \`${INSTALL_COMMAND}\``;
}

/** Skips the test when a tool it needs is missing, or fails it under CI; true when skipped. */
export function skipWithoutTools(t: { skip(message: string): void }, ...names: string[]): boolean {
  const problem = toolsProblem(...names);
  if (problem === undefined) return false;
  if (process.env.CI) assert.fail(problem);
  t.skip(problem);
  return true;
}

/**
 * A whole suite's `skip` option: why it cannot run here, except under CI, where it runs and
 * fails on the missing tool.
 */
export function suiteSkip(...names: string[]): string | undefined {
  return process.env.CI ? undefined : toolsProblem(...names);
}
