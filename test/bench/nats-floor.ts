/**
 * The floor under any cluster layout in which JetStream carries a room's events: what the
 * NATS machinery alone costs per event, with none of our code. 400-character events in
 * 100 KB stream messages (a full batch of the room log), appended one at a time with a
 * message id and an expected last sequence (as the log appends), followed by an ordered
 * consumer in another process (as a watching daemon follows): CPU per event of the publishing
 * client, the following client and nats-server, from the kernel. Linux only (/proc).
 * Alone: `node dist/test/bench/nats-floor.js`; `npm run bench -- nats-floor` adds the rows.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { natsProblem, startNatsServer } from '../helpers/nats.js';
import { type AddRow, median, round, runRowsAlone } from './common.js';
import { procCpuMs } from './external.js';
import { loadNow } from './serve-tree.js';

const EVENT_CHARS = 400;
const BATCH_BYTES = 100_000;
const BATCHES = 600;
const RUNS = 3;
const EVENTS = (BATCHES * BATCH_BYTES) / EVENT_CHARS;
const FOLLOWER = fileURLToPath(new URL('./nats-follower.js', import.meta.url));

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export async function natsFloorRows(add: AddRow, log: (text: string) => void): Promise<void> {
  const problem = process.platform !== 'linux' ? 'needs Linux (/proc)' : natsProblem();
  if (problem) {
    log(`nats-floor rows skipped: ${problem}`);
    return;
  }
  log('nats-floor: JetStream alone carrying 400-character events in 100 KB batches');
  const loadBefore = loadNow();
  const server = await startNatsServer({ jetstream: true });
  const nc = await connect({ servers: [server.url], noEcho: true });
  const serverPid = server.pid();
  if (serverPid === undefined) throw new Error('nats-server did not start');
  const serverCpuMs = (): number => procCpuMs(serverPid);
  const per = { publisher: [] as number[], follower: [] as number[], server: [] as number[] };
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const payload = new Uint8Array(BATCH_BYTES).fill(0x67);
    for (let run = 0; run < RUNS; run++) {
      const stream = `FLOOR${run}`;
      await jsm.streams.add({
        name: stream,
        subjects: [`floor.${run}`],
        storage: 'memory' as never,
        duplicate_window: 120_000_000_000,
      });
      const follower = fork(FOLLOWER, [server.url, stream, String(BATCHES)], { stdio: 'ignore' });
      await once(follower, 'message');
      const done = once(follower, 'message');
      const [c0, s0] = [selfCpuMs(), serverCpuMs()];
      let last = 0;
      for (let i = 0; i < BATCHES; i++) {
        const ack = await js.publish(`floor.${run}`, payload, {
          msgID: `${stream}-${i}`,
          expect: { lastSequence: last },
        });
        last = ack.seq;
      }
      const publisherMs = selfCpuMs() - c0;
      const [report] = (await done) as [{ cpuMs: number }];
      per.publisher.push((publisherMs * 1000) / EVENTS);
      per.follower.push((report.cpuMs * 1000) / EVENTS);
      per.server.push(((serverCpuMs() - s0) * 1000) / EVENTS);
      await once(follower, 'exit');
      await jsm.streams.delete(stream);
    }
  } finally {
    await nc.close();
    await server.stop();
  }
  const [publisher, follower, natsServer] = [per.publisher, per.follower, per.server].map(median) as [
    number,
    number,
    number,
  ];
  add('nats-floor: CPU per 400-character event, publishing client', round(publisher, 2), 'µs');
  add('  following client (another process)', round(follower, 2), 'µs');
  add('  nats-server', round(natsServer, 2), 'µs');
  add('  all three: before any daemon code', round(publisher + follower + natsServer, 2), 'µs');
  add('  machine load average (1 min) before / after these rows', loadBefore, `/ ${loadNow()}`);
}

runRowsAlone(import.meta.url, natsFloorRows);
