/**
 * `serve`'s cluster flags: the NATS servers, the cluster secret, NATS credentials (user and
 * password, or an nkey) and TLS files. Secrets come from files or the environment, never
 * from the command line; errors are one line and never echo a secret.
 */
import { readFileSync } from 'node:fs';
import type { Argv, Options } from 'yargs';
import type { ClusterConnectOptions } from '../lib/cluster/connection.js';
import { MIN_CLUSTER_SECRET_BYTES } from '../lib/cluster/keys.js';
import { UsageError } from './usage-error.js';

export const CLUSTER_SECRET_ENV = 'CMD_CHAT_CLUSTER_SECRET';
export const NATS_PASSWORD_ENV = 'CMD_CHAT_NATS_PASSWORD';
export const NATS_NKEY_ENV = 'CMD_CHAT_NATS_NKEY';

const GROUP = 'Cluster (several daemons sharing rooms over NATS, see docs/cluster.md):';

export interface ClusterArgs {
  cluster?: string[];
  clusterSecretFile?: string;
  natsUser?: string;
  natsPasswordFile?: string;
  natsNkeyFile?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
  clusterHeartbeat: number;
}

/** What `serve` needs to join a cluster. */
export interface ClusterSettings {
  connect: ClusterConnectOptions;
  secret: Buffer;
  heartbeatMs: number;
}

/** The cluster flags, in the order `serve --help` lists them (read by serve-fast.ts too). */
export const CLUSTER_OPTIONS = {
  cluster: {
    type: 'string',
    array: true,
    group: GROUP,
    describe: `share rooms with the other daemons on this NATS server: nats://HOST:PORT or tls://HOST:PORT (repeatable); needs the cluster secret (--cluster-secret-file or ${CLUSTER_SECRET_ENV})`,
  },
  'cluster-secret-file': {
    type: 'string',
    group: GROUP,
    describe: `file holding the cluster secret, the same on every daemon (at least ${MIN_CLUSTER_SECRET_BYTES} bytes, e.g. \`head -c 32 /dev/urandom | base64\`); or ${CLUSTER_SECRET_ENV}`,
  },
  'nats-user': { type: 'string', group: GROUP, describe: 'NATS user name' },
  'nats-password-file': {
    type: 'string',
    group: GROUP,
    describe: `file holding the NATS password (first line); or ${NATS_PASSWORD_ENV}`,
  },
  'nats-nkey-file': {
    type: 'string',
    group: GROUP,
    describe: `file holding the NATS nkey seed (SU...); or ${NATS_NKEY_ENV}`,
  },
  'nats-tls-ca': {
    type: 'string',
    group: GROUP,
    describe: 'CA file to verify the NATS server (PEM)',
  },
  'nats-tls-cert': { type: 'string', group: GROUP, describe: 'client certificate for NATS (PEM)' },
  'nats-tls-key': { type: 'string', group: GROUP, describe: 'key of the client certificate (PEM)' },
  'cluster-heartbeat': {
    type: 'number',
    default: 1,
    group: GROUP,
    describe:
      "a third of a daemon's lease in seconds: a daemon silent for three is taken for gone and its members' names are held for their resume",
  },
} satisfies Record<string, Options>;

export function withClusterOptions<T>(y: Argv<T>): Argv<T & ClusterArgs> {
  return y.options(CLUSTER_OPTIONS) as unknown as Argv<T & ClusterArgs>;
}

function readSecretFile(what: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the ${what} file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

const firstLine = (text: string): string => text.split(/\r?\n/, 1)[0] ?? '';

/** Checks the cluster flags without reading any file (yargs' check). */
export function checkClusterArgs(args: ClusterArgs): void {
  const h = args.clusterHeartbeat;
  if (typeof h !== 'number' || !Number.isFinite(h) || h < 0.05 || h > 60)
    throw new UsageError('--cluster-heartbeat must be 0.05 to 60 seconds');
  const clusterOnly: Array<[string, unknown]> = [
    ['--cluster-secret-file', args.clusterSecretFile],
    ['--nats-user', args.natsUser],
    ['--nats-password-file', args.natsPasswordFile],
    ['--nats-nkey-file', args.natsNkeyFile],
    ['--nats-tls-ca', args.natsTlsCa],
    ['--nats-tls-cert', args.natsTlsCert],
    ['--nats-tls-key', args.natsTlsKey],
  ];
  if (args.cluster === undefined || args.cluster.length === 0) {
    const given = clusterOnly.find(([, v]) => v !== undefined);
    if (given) throw new UsageError(`${given[0]} needs --cluster`);
    return;
  }
  for (const url of args.cluster) {
    // Never echo the URL: it might hold a password.
    if (url.includes('@'))
      throw new UsageError(
        '--cluster takes no credentials: they go in their own flags (--nats-user, --nats-password-file)',
      );
    if (!/^(nats|tls):\/\/[^\s/]+$/.test(url))
      throw new UsageError('--cluster takes nats://HOST:PORT or tls://HOST:PORT');
  }
  if ((args.natsTlsCert === undefined) !== (args.natsTlsKey === undefined))
    throw new UsageError('--nats-tls-cert and --nats-tls-key go together');
}

/**
 * The cluster settings from the flags, files and environment; undefined without --cluster.
 * Throws a UsageError (one line, no secret in it) for anything missing or wrong.
 */
export function clusterSettings(
  args: ClusterArgs,
  env: NodeJS.ProcessEnv = process.env,
): ClusterSettings | undefined {
  checkClusterArgs(args);
  if (args.cluster === undefined || args.cluster.length === 0) return undefined;
  let secretText: string | undefined;
  if (args.clusterSecretFile !== undefined)
    secretText = firstLine(readSecretFile('cluster secret', args.clusterSecretFile));
  else secretText = env[CLUSTER_SECRET_ENV];
  if (secretText === undefined || secretText === '')
    throw new UsageError(
      `--cluster needs the cluster secret: --cluster-secret-file or ${CLUSTER_SECRET_ENV}`,
    );
  const secret = Buffer.from(secretText, 'utf8');
  if (secret.length < MIN_CLUSTER_SECRET_BYTES)
    throw new UsageError(`the cluster secret must be at least ${MIN_CLUSTER_SECRET_BYTES} bytes`);

  const connect: ClusterConnectOptions = { servers: args.cluster, name: 'cmd-chat daemon' };
  const password =
    args.natsPasswordFile !== undefined
      ? firstLine(readSecretFile('NATS password', args.natsPasswordFile))
      : env[NATS_PASSWORD_ENV] || undefined;
  if (args.natsUser !== undefined) {
    if (password === undefined || password === '')
      throw new UsageError(`--nats-user needs a password: --nats-password-file or ${NATS_PASSWORD_ENV}`);
    connect.user = args.natsUser;
    connect.password = password;
  } else if (args.natsPasswordFile !== undefined) {
    throw new UsageError('--nats-password-file needs --nats-user');
  }
  const nkey =
    args.natsNkeyFile !== undefined
      ? firstLine(readSecretFile('NATS nkey', args.natsNkeyFile)).trim()
      : env[NATS_NKEY_ENV]?.trim() || undefined;
  if (nkey !== undefined) {
    if (connect.user !== undefined)
      throw new UsageError('give either a NATS user and password or an nkey, not both');
    if (!/^SU[A-Z2-7]{56}$/.test(nkey)) throw new UsageError('the NATS nkey is not a user seed (SU...)');
    connect.nkeySeed = new TextEncoder().encode(nkey);
  }
  if (args.natsTlsCa !== undefined || args.natsTlsCert !== undefined) {
    connect.tls = {
      ...(args.natsTlsCa !== undefined ? { caFile: args.natsTlsCa } : {}),
      ...(args.natsTlsCert !== undefined ? { certFile: args.natsTlsCert } : {}),
      ...(args.natsTlsKey !== undefined ? { keyFile: args.natsTlsKey } : {}),
    };
  }
  return { connect, secret, heartbeatMs: Math.round(args.clusterHeartbeat * 1000) };
}
