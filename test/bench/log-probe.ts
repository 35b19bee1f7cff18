/**
 * Bench-only instrument, preloaded into daemon processes (`NODE_OPTIONS=--import …`) by the
 * scale-out and resume rows: it wraps a few methods of the JetStream room log to time each
 * append (call → acknowledged: the latency a worker sees), count the batches it stores, the
 * compare-and-set conflicts, and the batches it opens from its watch with the time spent
 * opening and applying them. On SIGUSR2 it writes its counters as one `bench-probe` line on
 * stderr and starts over. Nothing in lib/ knows of it; a process without a room log on
 * JetStream reports zeros.
 */
import { JetStreamLog } from '../../lib/cluster/jetstream-log.js';
import { AppendConflict, RoomStream } from '../../lib/cluster/room-stream.js';

/** Append latencies kept between two reports at most (the rest are counted, not kept). */
const MAX_SAMPLES = 200_000;

/**
 * This thread's CPU time in ms (Node 23.9+): on a loaded machine the wall time of a short
 * synchronous call also counts the moments the process was not running. Wall time elsewhere.
 */
const threadMs: () => number =
  typeof process.threadCpuUsage === 'function'
    ? () => {
        const u = process.threadCpuUsage();
        return (u.user + u.system) / 1000;
      }
    : () => performance.now();

export interface ProbeReport {
  pid: number;
  /** Appends acknowledged, and the p50, p99 and maximum of their latencies (ms). */
  appends: number;
  p50: number;
  p99: number;
  max: number;
  /** Batches stored by this process and the events in them. */
  batches: number;
  batchEvents: number;
  /** Batch appends refused because another daemon appended first. */
  conflicts: number;
  /** Batches opened (decrypted, parsed) and events in them; CPU ms spent opening them. */
  opened: number;
  openedEvents: number;
  openMs: number;
  /** CPU ms spent applying batches (numbering, de-duplication, telling the room: its fan-out queueing). */
  applyMs: number;
}

type Counters = Omit<ProbeReport, 'p50' | 'p99' | 'max'>;

const fresh = (): Counters => ({
  pid: process.pid,
  appends: 0,
  batches: 0,
  batchEvents: 0,
  conflicts: 0,
  opened: 0,
  openedEvents: 0,
  openMs: 0,
  applyMs: 0,
});
let report = fresh();
let latencies: number[] = [];

type Method = (...args: unknown[]) => unknown;

/** Replaces `name` on `proto` by `wrap(original)`. */
function wrapMethod(proto: object, name: string, wrap: (original: Method) => Method): void {
  const target = proto as Record<string, Method>;
  const original = target[name];
  if (typeof original !== 'function') throw new Error(`log-probe: no method ${name}`);
  target[name] = wrap(original);
}

wrapMethod(
  JetStreamLog.prototype,
  'append',
  (original) =>
    function (this: unknown, ...args: unknown[]) {
      const t0 = performance.now();
      const p = original.apply(this, args) as Promise<unknown>;
      p.then(
        () => {
          report.appends++;
          if (latencies.length < MAX_SAMPLES) latencies.push(performance.now() - t0);
        },
        () => undefined,
      );
      return p;
    },
);

wrapMethod(
  JetStreamLog.prototype,
  'apply',
  (original) =>
    function (this: unknown, ...args: unknown[]) {
      const t0 = threadMs();
      const result = original.apply(this, args);
      report.applyMs += threadMs() - t0;
      return result;
    },
);

wrapMethod(
  RoomStream.prototype,
  'append',
  (original) =>
    function (this: unknown, ...args: unknown[]) {
      const batch = args[0] as { events: unknown[] };
      const p = original.apply(this, args) as Promise<unknown>;
      p.then(
        () => {
          report.batches++;
          report.batchEvents += batch.events.length;
        },
        (err: unknown) => {
          if (err instanceof AppendConflict) report.conflicts++;
        },
      );
      return p;
    },
);

wrapMethod(
  RoomStream.prototype,
  'open',
  (original) =>
    function (this: unknown, ...args: unknown[]) {
      const t0 = threadMs();
      const batch = original.apply(this, args) as { events: unknown[] } | undefined;
      report.openMs += threadMs() - t0;
      report.opened++;
      report.openedEvents += batch?.events.length ?? 0;
      return batch;
    },
);

process.on('SIGUSR2', () => {
  const sorted = latencies.sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0;
  const out: ProbeReport = { ...report, p50: at(0.5), p99: at(0.99), max: at(1) };
  process.stderr.write(`bench-probe ${JSON.stringify(out)}\n`);
  report = fresh();
  latencies = [];
});
