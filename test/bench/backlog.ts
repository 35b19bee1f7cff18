/**
 * Daemon memory while it holds a backlog (issue 23): 100 members of one room stop reading and
 * each sends 60 messages (one per record), so every member has 6,000 messages waiting; then
 * they read again and must each count all 6,000 (the probe shape of the side-by-side with the
 * original).
 *
 * - The figure the target is about: `cmd-chat serve` as it ships (the built bin, room "chat"
 *   with its password from the environment, limits raised for 100 members from one address;
 *   the members derive the room's key once, from the salt it answers), resident memory from
 *   /proc, no forced GC: what `top` shows. Split into file-backed pages (Node's own binary and
 *   libraries, shared with every node process) and private ones, beside an idle `node`
 *   process of the same run for reference.
 * - The young-generation setting of lib/server/heap.ts, measured: the bench daemon after gc()
 *   with the backlog, kept small (as serve) against V8's default growth, runs interleaved.
 */
import net from 'node:net';
import { sealEnvelope } from '../../lib/crypto/envelope.js';
import { deriveMaster, srpPasswordV2 } from '../../lib/crypto/kdf.js';
import { cliPath } from '../helpers/paths.js';
import { type BenchSecrets, median, type Reply, round, rpc, sleep } from './common.js';
import { procMemory, procReadable, startExternal } from './external.js';
import { type BenchContext, PASSWORD } from './harness.js';
import { LineSplitter, SecureMember, SrpRoomClient } from './wire.js';

const MEMBERS = 100;
const PER_MEMBER = 60;
const WAITING = MEMBERS * PER_MEMBER;
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

/**
 * Joins the members, then `measure('joined')`; the members stop reading and send; after 2 s
 * `measure('held')`; then they read again and must get everything.
 */
async function withBacklog(
  port: number,
  srp: () => SrpRoomClient,
  measure: (stage: 'joined' | 'held') => Promise<void>,
): Promise<void> {
  const members: SecureMember[] = [];
  try {
    for (let i = 0; i < MEMBERS; i++) members.push(await SecureMember.join(port, srp(), `b${i}`));
    await sleep(300);
    await measure('joined');
    for (const m of members) m.pause();
    for (const m of members) {
      for (let j = 0; j < PER_MEMBER; j++) {
        const text = sealEnvelope(m.fernet, { from: 'b', kind: 'text', body: 'x'.repeat(64) });
        m.sendFrames([JSON.stringify({ type: 'message', text })]);
      }
    }
    await sleep(2000);
    await measure('held');
    for (const m of members) m.resume();
    const deadline = Date.now() + 20_000;
    while (members.some((m) => m.count < WAITING) && Date.now() < deadline) await sleep(50);
    const short = members.filter((m) => m.count < WAITING).length;
    if (short > 0) throw new Error(`${short} members did not get all ${WAITING} messages`);
  } finally {
    for (const m of members) m.close();
  }
}

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

/** `cmd-chat serve` as it ships, measured from /proc. */
async function serveRows(ctx: BenchContext): Promise<void> {
  const runs = { idle: [] as number[], joined: [] as number[], held: [] as number[], anon: [] as number[] };
  const file: number[] = [];
  const peak: number[] = [];
  const node: number[] = [];
  for (let run = 0; run < 3; run++) {
    // The floor: a node process that only waits.
    const bare = await startExternal(
      process.execPath,
      ['-e', 'console.log("port 0"); setInterval(() => {}, 1000)'],
      {
        portLine: /port (\d+)/,
      },
    );
    await sleep(500);
    node.push(procMemory(bare.pid).rss);
    await bare.stop();
    const serve = await startExternal(process.execPath, [cliPath, 'serve', '--port', '0', ...SERVE_LIMITS], {
      portLine: /listening on 127\.0\.0\.1:(\d+)/,
      env: { ...process.env, CMD_CHAT_PASSWORD: PASSWORD },
    });
    try {
      await sleep(500);
      runs.idle.push(procMemory(serve.pid).rss);
      const srp = new SrpRoomClient('chat', await secretsFromSalt(serve.port, 'chat', ctx.srp('idle0')), 4);
      await withBacklog(
        serve.port,
        () => srp,
        async (stage) => {
          const m = procMemory(serve.pid);
          runs[stage].push(m.rss);
          if (stage === 'held') {
            runs.anon.push(m.anon);
            file.push(m.file);
            peak.push(m.peak);
          }
        },
      );
    } finally {
      await serve.stop();
    }
  }
  ctx.add(
    `cmd-chat serve RSS, ${MEMBERS} members × ${PER_MEMBER}-message backlog (${WAITING.toLocaleString('en')} waiting each)`,
    round(median(runs.held), 1),
    'MB',
    '≤ 64',
  );
  ctx.add('  of which private (anonymous) pages', round(median(runs.anon), 1), 'MB');
  ctx.add("  of which file-backed (node's binary and libraries, shared)", round(median(file), 1), 'MB');
  ctx.add(
    '  peak RSS of the run (VmHWM; the start-up scrypt of --password included)',
    round(median(peak), 1),
    'MB',
  );
  ctx.add('  serve RSS idle (started, no member)', round(median(runs.idle), 1), 'MB');
  ctx.add(
    `  serve RSS with ${MEMBERS} members joined, before the sends`,
    round(median(runs.joined), 1),
    'MB',
  );
  ctx.add('  an idle `node` process in the same run (the floor)', round(median(node), 1), 'MB');
}

/** The bench daemon after gc() with the backlog: young generation kept small (as serve) or V8's default. */
async function youngGenerationRows(ctx: BenchContext): Promise<void> {
  const held = { serve: [] as number[], 'v8-default': [] as number[] };
  const added = { serve: [] as number[], 'v8-default': [] as number[] };
  for (let run = 0; run < 3; run++) {
    for (const heap of ['v8-default', 'serve'] as const) {
      await ctx.withDaemon(
        'secure',
        async (d) => {
          let joined = 0;
          await withBacklog(
            d.port,
            () => ctx.srp('idle0'),
            async (stage) => {
              const { rss } = await rpc<{ rss: number } & Reply>(d.proc, 'memory');
              if (stage === 'joined') joined = rss;
              else {
                held[heap].push(rss / 2 ** 20);
                added[heap].push((rss - joined) / 2 ** 20);
              }
            },
          );
        },
        {},
        heap,
      );
    }
  }
  ctx.add(
    'bench daemon RSS after gc() with the backlog (young generation as serve)',
    round(median(held.serve), 1),
    'MB',
  );
  ctx.add('  of which the backlog (RSS after − before the sends)', round(median(added.serve), 1), 'MB');
  ctx.add("  the same with V8's default young generation", round(median(held['v8-default']), 1), 'MB');
  ctx.add("  of which the backlog, V8's default", round(median(added['v8-default']), 1), 'MB');
}

export async function backlogMemoryRows(ctx: BenchContext): Promise<void> {
  ctx.log(`${MEMBERS} members × ${PER_MEMBER} messages, nobody reading`);
  await ctx.secrets();
  if (procReadable) await serveRows(ctx);
  else ctx.log('cmd-chat serve RSS skipped: it is read from /proc (Linux only)');
  await youngGenerationRows(ctx);
}
