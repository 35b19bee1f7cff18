/**
 * `serve --workers N`: real process trees from the compiled CLI. Workers share the port and,
 * through a private nats-server (or the one --cluster names), the rooms; the nkey seed and
 * cluster secret travel over IPC only (no command line, no environment); the primary logs
 * one line per worker event, restarts a crashed worker, turns SIGTERM into one shutdown of
 * the whole tree, and its death takes the workers and nats-server along. Linux (/proc).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ChatEvent } from '../../lib/client/events.js';
import { roomEntry } from '../../lib/server/rooms.js';
import { clusterForTest, type Member, member, NATS_USER, skipWithoutNats } from '../helpers/cluster.js';
import { exitWithin, within } from '../helpers/deadline.js';
import { isMessage } from '../helpers/events.js';
import { type DaemonProcess, freePort, spawnCli, startDaemonProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/raw-client.js';
import { alive, connectionsByPid } from '../helpers/sockets.js';
import { srpMath } from '../helpers/srp-math.js';

const PW = 'correct horse battery staple';
const SEED = /SU[A-Z2-7]{56}/;

function workerPids(stderr: string): Map<number, number> {
  const pids = new Map<number, number>();
  for (const m of stderr.matchAll(/worker (\d+) \(pid (\d+)\) listening/g))
    pids.set(Number(m[1]), Number(m[2]));
  return pids;
}

function natsPid(stderr: string): number {
  const m = /nats-server \(pid (\d+)\) ready on 127\.0\.0\.1:(\d+)/.exec(stderr);
  assert.ok(m, `the nats-server line:\n${stderr}`);
  return Number(m[1]);
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

const procText = (pid: number, file: 'cmdline' | 'environ'): string =>
  readFileSync(`/proc/${pid}/${file}`, 'latin1').replaceAll('\0', ' ');

/** Members joined one after the other until both workers serve some (round robin: a few). */
async function membersOnBothWorkers(d: DaemonProcess, pids: number[], room: string): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < 8; i++) {
    members.push(await member(d, room, PW, `m${i}`));
    const spread = connectionsByPid(d.port, pids);
    if (i >= 1 && pids.every((p) => (spread.get(p) ?? []).length > 0)) return members;
  }
  assert.fail('members did not land on both workers');
}

test('serve --workers 2: one port, rooms shared across workers, secrets only over IPC, one shutdown', async (t) => {
  if (process.platform !== 'linux') return t.skip('reads /proc');
  if (skipWithoutNats(t)) return;
  // A rooms file without a decoy key: the decoys come from the primary's per-run secret.
  const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-workers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const roomsFile = join(dir, 'rooms.jsonl');
  writeFileSync(roomsFile, `${JSON.stringify(await roomEntry('chat', PW))}\n`);
  const d = await startDaemonProcess([
    '--workers',
    '2',
    '--cluster-heartbeat',
    '0.2',
    '--rooms-file',
    roomsFile,
  ]);
  t.after(() => d.stop('SIGKILL'));
  const stderr = d.stderr();
  const workers = workerPids(stderr);
  assert.equal(workers.size, 2, stderr);
  const nats = natsPid(stderr);
  assert.equal(stderr.match(/listening on /g)?.length, 1, 'one start-up line');
  assert.ok(!SEED.test(stderr) && !/SU[A-Z2-7]{20}/.test(stderr), 'no seed in the log');

  // Nothing secret on a command line or in an environment another local user could read.
  const tree = [d.proc.pid!, ...workers.values(), nats, parentOf(nats)];
  for (const pid of tree) {
    for (const file of ['cmdline', 'environ'] as const) {
      const text = procText(pid, file);
      assert.ok(!SEED.test(text), `no nkey seed in /proc/${pid}/${file}`);
      assert.ok(!/CMD_CHAT_CLUSTER_SECRET|CMD_CHAT_NATS_PASSWORD/.test(text), `no secret variable in ${pid}`);
    }
  }
  assert.match(procText(nats, 'cmdline'), /nats-server -c \/dev\/fd\/\d+ $/);
  assert.ok(
    !/authorization|nkey/.test(procText(nats, 'environ')),
    "the config is not in the server's environment",
  );
  // The private server is on loopback and asks for an nkey (a nonce to sign) before anything.
  const info = await within(
    new Promise<string>((resolve, reject) => {
      const port = Number(/ready on 127\.0\.0\.1:(\d+)/.exec(stderr)![1]);
      const sock = net.connect({ host: '127.0.0.1', port });
      sock.once('data', (b) => {
        resolve(b.toString());
        sock.destroy();
      });
      sock.once('error', reject);
    }),
    10_000,
    "the private nats-server's INFO",
  );
  assert.match(info, /"auth_required":true/);
  assert.match(info, /"nonce":/);

  // Members on both workers are in one room: every message reaches every member.
  const members = await membersOnBothWorkers(d, [...workers.values()], 'chat');
  for (const m of members) m.session.send(`from ${m.name}`);
  for (const m of members) {
    for (const other of members)
      await m.log.waitFor(isMessage(`from ${other.name}`), `${other.name} → ${m.name}`);
  }
  const ended = members.map((m) => new Promise((resolve) => m.session.once('close', resolve)));

  // An unknown room gets the same decoy challenge from every worker (connections alternate).
  const A = srpMath.computeA(Buffer.alloc(32, 7)).toString('base64');
  const salts = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const reply = await within(
      new Promise<string>((resolve, reject) => {
        const sock = net.connect({ host: '127.0.0.1', port: d.port }, () =>
          sock.write(`${JSON.stringify({ cmd: 'srp_init', v: 3, room: 'no-such-room', A })}\n`),
        );
        let got = '';
        sock.on('data', (b) => {
          got += b.toString();
          if (got.includes('\n')) {
            sock.destroy();
            resolve(got);
          }
        });
        sock.once('error', reject);
      }),
      10_000,
      "a worker's decoy challenge",
    );
    salts.add(String((JSON.parse(reply) as { salt?: string }).salt));
  }
  assert.equal(salts.size, 1, `one decoy salt across workers: ${[...salts].join(', ')}`);

  // SIGTERM to the primary: one shutdown of the whole tree, members told.
  assert.equal(await d.stop('SIGTERM'), 0);
  await within(Promise.all(ended), 20_000, 'every member told of the shutdown');
  const out = d.stderr();
  assert.equal(out.match(/SIGTERM: stopping 2 worker\(s\)/g)?.length, 1, out);
  for (const slot of [1, 2]) {
    assert.equal(out.match(new RegExp(`worker ${slot}: SIGTERM: shutting down`, 'g'))?.length, 1, out);
  }
  assert.match(out, /stopped; 2 worker\(s\) and nats-server gone, secrets zeroed/);
  await waitFor(() => tree.every((pid) => !alive(pid)), 'every process of the tree to be gone');
});

test('serve --workers 2: a crashed worker is restarted, the other keeps its members; the primary killed takes the tree along', async (t) => {
  if (process.platform !== 'linux') return t.skip('reads /proc');
  if (skipWithoutNats(t)) return;
  const d = await startDaemonProcess([
    '--workers',
    '2',
    '--cluster-heartbeat',
    '0.2',
    '--room',
    `chat=${PW}`,
  ]);
  t.after(() => d.stop('SIGKILL'));
  const workers = workerPids(d.stderr());
  const nats = natsPid(d.stderr());
  const members = await membersOnBothWorkers(d, [...workers.values()], 'chat');
  const gone = new Set<Member>();
  for (const m of members) m.session.once('close', () => gone.add(m));

  const victim = workers.get(1)!;
  process.kill(victim, 'SIGKILL');
  await waitFor(
    () =>
      new RegExp(`worker 1 \\(pid ${victim}\\) exited \\(signal SIGKILL\\); restarting it`).test(d.stderr()),
    `the crash line:\n${d.stderr()}`,
  );
  await waitFor(
    () => workerPids(d.stderr()).get(1) !== victim,
    `worker 1 listening again:\n${d.stderr()}`,
    20_000,
  );
  await waitFor(() => gone.size > 0, "the crashed worker's members to be dropped");
  const survivors = members.filter((m) => !gone.has(m));
  assert.ok(survivors.length > 0, 'members of worker 2 stay');
  // The survivors see the others leave, and talk with a newcomer (on either worker).
  const isLeave = (name: string) => (e: ChatEvent) => e.type === 'leave' && e.username === name;
  for (const g of gone) await survivors[0]!.log.waitFor(isLeave(g.name), `${g.name} leaving`);
  const late = [await member(d, 'chat', PW, 'late1'), await member(d, 'chat', PW, 'late2')];
  survivors[0]!.session.send('still here');
  for (const l of late) await l.log.waitFor(isMessage('still here'), 'a survivor to a newcomer');
  late[0]!.session.send('hello survivors');
  await survivors[0]!.log.waitFor(isMessage('hello survivors'), 'a newcomer to a survivor');

  // The primary SIGKILLed: the workers (IPC gone) and nats-server (its watchdog's stdin
  // closed) stop by themselves.
  const tree = [...workerPids(d.stderr()).values(), nats, parentOf(nats)];
  await d.stop('SIGKILL');
  await waitFor(() => tree.every((pid) => !alive(pid)), 'the workers and nats-server to be gone', 20_000);
});

test('serve --workers 2 --cluster: the workers join the given NATS server and share rooms with another daemon', async (t) => {
  const cluster = await clusterForTest(t, 1, ['--room', `lobby=${PW}`]);
  if (!cluster) return;
  const d = await startDaemonProcess(
    [
      '--workers',
      '2',
      '--room',
      `lobby=${PW}`,
      '--cluster',
      cluster.nats.url,
      '--nats-user',
      NATS_USER,
      '--cluster-heartbeat',
      '0.2',
    ],
    cluster.env,
  );
  t.after(() => d.stop('SIGKILL'));
  assert.doesNotMatch(d.stderr(), /nats-server \(pid/, 'no private server with --cluster');
  const alice = await member(cluster.daemons[0]!, 'lobby', PW, 'alice');
  const bob = await member(d, 'lobby', PW, 'bob');
  const carol = await member(d, 'lobby', PW, 'carol');
  alice.session.send('from the other daemon');
  bob.session.send('from a worker');
  for (const m of [alice, bob, carol]) {
    await m.log.waitFor(isMessage('from the other daemon'), `alice → ${m.name}`);
    await m.log.waitFor(isMessage('from a worker'), `bob → ${m.name}`);
  }
  await Promise.all([alice, bob, carol].map((m) => m.session.close()));
  assert.equal(await d.stop('SIGTERM'), 0);
});

test('serve --workers: clear one-line errors (no nats-server, the port taken, bad values)', async (t) => {
  if (process.platform === 'win32') return t.skip('POSIX paths');
  const run = async (
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number | null; err: string }> => {
    const c = spawnCli(['serve', ...args], { CMD_CHAT_PASSWORD: PW, ...env });
    const code = await exitWithin(c, 30_000, `serve ${args.join(' ')}`);
    return { code, err: c.stderr() };
  };
  const missing = await run(['127.0.0.1', '0', '--workers', '2'], {
    CMD_CHAT_NATS_SERVER: '/nonexistent/nats-server',
  });
  assert.equal(missing.code, 2);
  assert.equal(missing.err, 'cmd-chat: CMD_CHAT_NATS_SERVER names no executable nats-server\n');

  for (const [args, pattern] of [
    [['--workers', '0'], /--workers takes 1 to 64/],
    [['--workers', '2', '--socket', '/tmp/x.sock'], /--workers shares a TCP port/],
  ] as const) {
    const r = await run(['127.0.0.1', '0', ...args]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, pattern);
  }

  if (skipWithoutNats(t)) return;
  const taken = net.createServer();
  const port = await freePort();
  await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const busy = await run(['127.0.0.1', String(port), '--workers', '2']);
  assert.equal(busy.code, 3, busy.err);
  assert.equal(busy.err.match(/^cmd-chat: .*EADDRINUSE|address.*in use/gim)?.length, 1, busy.err);
  assert.match(busy.err, /stopped; 2 worker\(s\) and nats-server gone/);
});
