/**
 * JetStream figures for the rooms of a cluster, on one nats-server (memory storage, store
 * on a tmpfs), the client in this process:
 * - the room log (lib/cluster/jetstream-log.ts) appending 400-character messages as fast as
 *   it is given them: events/s, events per stored batch, CPU per event (client + server);
 *   the same through raw one-message-per-event appends, to show what batching saves;
 * - append latency (append → acknowledged) at half the batched rate, p50 and p99;
 * - the layout: 100 rooms appending one message at a time each, per-room streams
 *   (`Nats-Expected-Last-Sequence`) against one shared stream (`Nats-Expected-Last-Subject-
 *   Sequence`), and nats-server memory per room stream.
 * Runnable alone: `node dist/test/bench/jetstream.js`; `npm run bench -- jetstream` adds the rows.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { JetStreamRoomStore } from '../../lib/cluster/jetstream-store.js';
import { deriveClusterKeys, roomLogNames } from '../../lib/cluster/keys.js';
import { defaultDaemonLimits } from '../../lib/protocol/limits.js';
import { message } from '../helpers/jetstream.js';
import { natsProblem, startNatsServer } from '../helpers/nats.js';
import { type AddRow, median, percentile, round, runRowsAlone, sleep } from './common.js';
import { loadNow } from './serve-tree.js';

const TEXT = 'g'.repeat(400);
const EVENTS = 20_000;
const IN_FLIGHT = 256;

/** CPU ms of a process so far (utime + stime from /proc, 100 ticks/s). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssKiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export async function jetStreamRows(add: AddRow, log: (text: string) => void): Promise<void> {
  const problem = natsProblem();
  if (problem) {
    log(`jetstream rows skipped: ${problem}`);
    return;
  }
  log('jetstream: room logs on one nats-server (memory storage)');
  const server = await startNatsServer({ jetstream: true });
  const nc = await connect({ servers: [server.url], noEcho: true });
  const keys = deriveClusterKeys(randomBytes(32));
  const store = await JetStreamRoomStore.start(nc, keys, {
    limits: { maxEvents: 25_000, maxChars: 10_000_000 },
    holdMs: 60_000,
    leaseMs: 3000,
  });
  const jsm = await jetstreamManager(nc);
  try {
    // Batched: the log given IN_FLIGHT appends at a time.
    const rates: number[] = [];
    const clientPer: number[] = [];
    const serverPer: number[] = [];
    const perBatch: number[] = [];
    for (let run = 0; run < 3; run++) {
      const room = `batched${run}`;
      const { log: roomLog } = await store.open(room);
      const [c0, s0] = [selfCpuMs(), cpuMs(server.pid())];
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < EVENTS) {
            next++;
            await roomLog.append(message(TEXT));
          }
        }),
      );
      const ms = performance.now() - t0;
      rates.push(EVENTS / (ms / 1000));
      clientPer.push(((selfCpuMs() - c0) * 1000) / EVENTS);
      serverPer.push(((cpuMs(server.pid()) - s0) * 1000) / EVENTS);
      const info = await jsm.streams.info(roomLogNames(keys, room).stream);
      perBatch.push(EVENTS / info.state.messages);
    }
    const rate = median(rates);
    add(
      `jetstream: room-log appends/s, batched (${IN_FLIGHT} in flight, 400-char messages)`,
      Math.round(rate),
      '/s',
    );
    add('  events per stored batch', round(median(perBatch), 1), '');
    add('  CPU per event: the daemon (seal, batch, ids, acknowledgement)', round(median(clientPer), 1), 'µs');
    add('  CPU per event: nats-server', round(median(serverPer), 1), 'µs');

    // Unbatched: one stream message per event, 64 in flight.
    const js = jetstream(nc);
    await jsm.streams.add({ name: 'RAW', subjects: ['raw'], storage: 'memory' as never });
    const payload = new Uint8Array(TEXT.length + 100);
    const [c0, s0] = [selfCpuMs(), cpuMs(server.pid())];
    const t0 = performance.now();
    let sent = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (sent < EVENTS) {
          sent++;
          await js.publish('raw', payload);
        }
      }),
    );
    const rawMs = performance.now() - t0;
    add(
      '  unbatched: one stream message per event (64 in flight)',
      Math.round(EVENTS / (rawMs / 1000)),
      '/s',
    );
    add('  unbatched CPU per event: client', round(((selfCpuMs() - c0) * 1000) / EVENTS, 1), 'µs');
    add(
      '  unbatched CPU per event: nats-server',
      round(((cpuMs(server.pid()) - s0) * 1000) / EVENTS, 1),
      'µs',
    );

    // Latency at half the batched rate.
    const { log: paced } = await store.open('paced');
    const target = rate / 2;
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((target * tickMs) / 1000));
    const latencies: number[] = [];
    const pending: Array<Promise<void>> = [];
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < 3000) {
      for (let i = 0; i < perTick; i++, n++) {
        const at = performance.now();
        pending.push(paced.append(message(TEXT)).then(() => void latencies.push(performance.now() - at)));
      }
      await sleep(Math.max(0, start + (n / perTick) * tickMs - performance.now()));
    }
    await Promise.all(pending);
    add(
      `jetstream: append latency at half load (${Math.round(target)}/s), p50`,
      round(percentile(latencies, 50), 2),
      'ms',
    );
    add('  append latency at half load, p99', round(percentile(latencies, 99), 2), 'ms');

    await steadyStateRows(add, nc, log);
    await layoutRows(add, jsm, js, server.pid());
  } finally {
    await store.dispose();
    await nc.close();
    await server.stop();
  }
}

/**
 * A busy room long after it opened: the log's table of de-duplication ids is full (sized to
 * every id the default resume window can hold, about 205,000), so each event applied also
 * forgets the oldest id. CPU of this process (the daemon's side: appending and applying) per
 * event while the table fills, and once it is full.
 */
async function steadyStateRows(
  add: AddRow,
  nc: Awaited<ReturnType<typeof connect>>,
  log: (text: string) => void,
): Promise<void> {
  const limits = {
    maxEvents: defaultDaemonLimits.resumeWindow,
    maxChars: defaultDaemonLimits.resumeWindowBytes,
  };
  const store = await JetStreamRoomStore.start(nc, deriveClusterKeys(randomBytes(32)), {
    limits,
    holdMs: 60_000,
    leaseMs: 3000,
  });
  try {
    const { log: roomLog } = await store.open('steady');
    // The table's size, as jetstream-store.ts sizes it (1.5 bytes per character, 192 per event).
    const maxIds = Math.max(4096, Math.ceil((limits.maxChars * 1.5 + 192 * limits.maxEvents) / 128));
    const text = 'g'.repeat(40);
    let next = 0;
    const appendUpTo = async (end: number): Promise<number> => {
      const c0 = selfCpuMs();
      const from = next;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < end) {
            next++;
            await roomLog.append(message(text), `steady ${next}`);
          }
        }),
      );
      return ((selfCpuMs() - c0) * 1000) / (end - from);
    };
    log(`jetstream: filling a room log's id table (${maxIds} ids)`);
    const loadBefore = loadNow();
    const filling = await appendUpTo(20_000);
    await appendUpTo(maxIds);
    const full = await appendUpTo(maxIds + 40_000);
    add('jetstream: busy room, CPU per event, id table filling (first 20,000)', round(filling, 1), 'µs');
    add(`  id table full (${maxIds} ids: each event forgets the oldest)`, round(full, 1), 'µs');
    add('  machine load average (1 min) before / after these rows', loadBefore, `/ ${loadNow()}`);
  } finally {
    await store.dispose();
  }
}

/** 100 rooms appending one message at a time each: per-room streams against one shared stream. */
async function layoutRows(
  add: AddRow,
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  js: ReturnType<typeof jetstream>,
  serverPid: number | undefined,
): Promise<void> {
  const ROOMS = 100;
  const payload = new Uint8Array(500);
  const rss0 = rssKiB(serverPid);
  const t0 = performance.now();
  for (let r = 0; r < ROOMS; r++) {
    await jsm.streams.add({
      name: `L${r}`,
      subjects: [`l.${r}`],
      storage: 'memory' as never,
      max_msgs: 10_000,
    });
  }
  const createMs = (performance.now() - t0) / ROOMS;
  await sleep(200);
  const rssPer = (rssKiB(serverPid) - rss0) / ROOMS;
  await jsm.streams.add({
    name: 'SHARED',
    subjects: ['s.*'],
    storage: 'memory' as never,
    max_msgs_per_subject: 10_000,
  });
  const measure = async (append: (room: number, last: number) => Promise<number>): Promise<number> => {
    const last = new Array<number>(ROOMS).fill(0);
    let count = 0;
    const until = performance.now() + 3000;
    await Promise.all(
      Array.from({ length: ROOMS }, async (_, r) => {
        while (performance.now() < until) {
          last[r] = await append(r, last[r]!);
          count++;
        }
      }),
    );
    return count / 3;
  };
  const perRoom = await measure(
    async (r, last) => (await js.publish(`l.${r}`, payload, { expect: { lastSequence: last } })).seq,
  );
  // The acknowledgement's stream sequence is the subject's new last sequence.
  const shared = await measure(
    async (r, last) => (await js.publish(`s.${r}`, payload, { expect: { lastSubjectSequence: last } })).seq,
  );
  add('layout: create a room stream (memory)', round(createMs, 2), 'ms');
  add('  nats-server RSS per empty room stream', round(rssPer, 1), 'KiB');
  add(`  ${ROOMS} rooms appending one at a time, a stream per room`, Math.round(perRoom), '/s');
  add(`  ${ROOMS} rooms, one shared stream (expected last subject sequence)`, Math.round(shared), '/s');
}

runRowsAlone(import.meta.url, jetStreamRows);
