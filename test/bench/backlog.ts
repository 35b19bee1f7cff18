import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sealEnvelope } from '../../lib/crypto/envelope.js';
import { Fernet } from '../../lib/crypto/fernet.js';
import { median, type Reply, round, rpc, sleep } from './common.js';
import { procMemory, procReadable, startExternal, startServe } from './external.js';
import type { BenchContext } from './harness.js';
import { SecureMember, type SrpRoomClient } from './wire.js';

const MEMBERS = 100;
const PER_MEMBER = 60;
const WAITING = MEMBERS * PER_MEMBER;
/** The message frame each member sends (a 64-character body, sealed with its room key). */
const frame = (fernet: Fernet): string =>
  JSON.stringify({
    type: 'message',
    text: sealEnvelope(fernet, { from: 'b', kind: 'text', body: 'x'.repeat(64) }),
  });
/** Its size, for the floor's lines. */
const frameBytes = frame(new Fernet(randomBytes(32))).length + 1;
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
      for (let j = 0; j < PER_MEMBER; j++) m.sendFrames([frame(m.fernet)]);
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

const floorRelay = join(dirname(fileURLToPath(import.meta.url)), 'floor-relay.js');

/**
 * The floor: RSS of floor-relay.ts (plain Node relaying lines, no crypto) when the same
 * backlog waits, from /proc: 100 clients that stop reading, each sending 60 lines of
 * `lineBytes` (a message frame's size).
 */
async function floorRss(lineBytes: number): Promise<number> {
  const relay = await startExternal(process.execPath, [floorRelay], { portLine: /port (\d+)/ });
  const clients: net.Socket[] = [];
  try {
    for (let i = 0; i < MEMBERS; i++) {
      const c = net.connect(relay.port, '127.0.0.1');
      await once(c, 'connect');
      c.pause();
      c.on('error', () => {});
      clients.push(c);
    }
    const line = `${'m'.repeat(lineBytes - 1)}\n`;
    for (const c of clients) for (let j = 0; j < PER_MEMBER; j++) c.write(line);
    await sleep(2000);
    return procMemory(relay.pid).rss;
  } finally {
    for (const c of clients) c.destroy();
    await relay.stop();
  }
}

/** `cmd-chat serve` as it ships, measured from /proc. */
async function serveRows(ctx: BenchContext): Promise<void> {
  const runs = { idle: [] as number[], joined: [] as number[], held: [] as number[], anon: [] as number[] };
  const file: number[] = [];
  const peak: number[] = [];
  const node: number[] = [];
  const floor: number[] = [];
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
    floor.push(await floorRss(frameBytes));
    const { daemon: serve, srp } = await startServe(ctx);
    try {
      await sleep(500);
      runs.idle.push(procMemory(serve.pid).rss);
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
  ctx.add('  an idle `node` process in the same run', round(median(node), 1), 'MB');
  ctx.add(
    `  the floor: a bare Node relay (no crypto) holding the same backlog (${frameBytes}-byte lines)`,
    round(median(floor), 1),
    'MB',
  );
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
