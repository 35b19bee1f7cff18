/**
 * The room logs' own CPU per event, in this process, with nothing else running in it: what a
 * message costs the in-memory log (the default backing) and what it costs the JetStream log's
 * code on the appending daemon (queue, batch, seal, acknowledgement, numbering, ids, watchers)
 * and on a watching one (open a stored batch, apply it). The JetStream log runs on a stream
 * kept in this process (the same sealed batches, answered at once), so the rows leave out the
 * NATS client and nats-server, which the scale-out rows measure with the rest; these figures
 * are steady where the scale-out rows on a shared machine vary by ±50 % from run to run.
 * 200,000 appends of 200-character messages, 4,000 in flight, the log full (6,000 events, the
 * default resume window; a 205,000-id de-duplication window, what a room's default byte limit
 * gives), with and without a de-duplication id (real clients send one, the scale-out rows' do
 * not). Alone: `node dist/test/bench/log-cpu.js`.
 */
import { randomBytes } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import { JetStreamLog } from '../../lib/cluster/jetstream-log.js';
import { deriveClusterKeys } from '../../lib/cluster/keys.js';
import { type LogBatch, openBatch, sealBatch } from '../../lib/cluster/log-batch.js';
import type { Follower, RoomStream, StreamState } from '../../lib/cluster/room-stream.js';
import { MemoryRoomLog } from '../../lib/rooms/memory.js';
import type { Appended, RoomEvent, RoomLog } from '../../lib/rooms/seam.js';
import { type AddRow, median, round, runRowsAlone } from './common.js';

const EVENTS = 200_000;
const IN_FLIGHT = 4000;
const RUNS = 3;
const keys = deriveClusterKeys(randomBytes(32));
const SUBJECT = 'ccr.bench';
const text = `gAAAAA${randomBytes(147).toString('base64')}`;

/** A stream kept in this process: sealed batches in an array, appends answered at once. */
class LocalStream {
  readonly stream = 'CCR_bench';
  readonly subject = SUBJECT;
  private push: ((m: { seq: number; data: Uint8Array }) => void) | undefined;
  constructor(readonly stored: Uint8Array[] = []) {}
  private state(): StreamState {
    return { epoch: 'bench', first: 1, last: this.stored.length };
  }
  async ensure(): Promise<StreamState> {
    return this.state();
  }
  async append(batch: LogBatch, epoch: string, _id: string, expectLast: number): Promise<Appended> {
    if (expectLast !== this.stored.length) throw new Error('the bench has one appender');
    this.stored.push(sealBatch(keys.sealKey, SUBJECT, epoch, batch));
    return { seq: this.stored.length, duplicate: false };
  }
  async get(seq: number, epoch: string): Promise<LogBatch | undefined> {
    const data = this.stored[seq - 1];
    return data && openBatch(keys.sealKey, SUBJECT, epoch, data);
  }
  async follow(): Promise<Follower> {
    const queue: Array<{ seq: number; data: Uint8Array }> = [];
    let wake: (() => void) | undefined;
    this.push = (m) => {
      queue.push(m);
      wake?.();
    };
    return {
      stop: () => undefined,
      async *[Symbol.asyncIterator]() {
        for (;;) {
          while (queue.length > 0) yield queue.shift() as unknown as JsMsg;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      },
    };
  }
  open(data: Uint8Array, epoch: string): LogBatch | undefined {
    return openBatch(keys.sealKey, SUBJECT, epoch, data);
  }
  /** Hands a stored batch to the follower, as the server would. */
  deliver(seq: number, data: Uint8Array): void {
    this.push?.({ seq, data });
  }
}

const asStream = (s: LocalStream): RoomStream => s as unknown as RoomStream;
const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** CPU µs per append: EVENTS appends, IN_FLIGHT at a time, each told to one watcher. */
async function appendCost(log: RoomLog, withId: boolean): Promise<number> {
  let told = 0;
  const stop = log.watch(() => told++);
  const started = cpuMicros();
  let inFlight: Array<Promise<Appended>> = [];
  for (let i = 0; i < EVENTS; i++) {
    const event: RoomEvent & { kind: 'message' } = {
      kind: 'message',
      data: { id: `run-${i}`, text, timestamp: i / 1000, user_id: 'u'.repeat(32), username: 'member42' },
    };
    inFlight.push(withId ? log.append(event, `owner${i % 100}:${i}`) : log.append(event));
    if (inFlight.length >= IN_FLIGHT) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  const used = cpuMicros() - started;
  stop();
  if (told !== EVENTS) throw new Error(`the watcher was told ${told} of ${EVENTS}`);
  return used / EVENTS;
}

const logOptions = { keys, roomId: 'bench', maxIds: 205_000 };

async function runOnce(withId: boolean): Promise<{ memory: number; append: number; watch: number }> {
  const memory = await appendCost(new MemoryRoomLog({ maxEvents: 6000, maxChars: 16 * 1024 * 1024 }), withId);
  const stream = new LocalStream();
  const appender = await JetStreamLog.open(asStream(stream), logOptions);
  const append = await appendCost(appender, withId);
  appender.close();
  // A second daemon's log watching the same batches: delivered, opened, applied.
  const watching = new LocalStream();
  const watcher = await JetStreamLog.open(asStream(watching), logOptions);
  let told = 0;
  watcher.watch(() => told++);
  const started = cpuMicros();
  stream.stored.forEach((data, i) => {
    watching.deliver(i + 1, data);
  });
  while (told < EVENTS) await new Promise((resolve) => setImmediate(resolve));
  const watch = (cpuMicros() - started) / EVENTS;
  watcher.close();
  return { memory, append, watch };
}

export async function logCpuRows(add: AddRow, log: (text: string) => void): Promise<void> {
  for (const withId of [false, true]) {
    log(`room logs in process, ${withId ? 'with' : 'without'} de-duplication ids`);
    const runs: Array<{ memory: number; append: number; watch: number }> = [];
    for (let i = 0; i < RUNS; i++) runs.push(await runOnce(withId));
    const m = (k: 'memory' | 'append' | 'watch'): number => round(median(runs.map((r) => r[k])), 2);
    const how = withId ? 'with a de-duplication id' : 'no de-duplication id';
    add(`room log CPU per append, in memory (full, 6,000 events), ${how}`, m('memory'), 'µs');
    add(`  JetStream log's own code, appending daemon (no NATS), ${how}`, m('append'), 'µs');
    add(`  JetStream log's own code, watching daemon (open + apply), ${how}`, m('watch'), 'µs');
  }
}

runRowsAlone(import.meta.url, logCpuRows);
