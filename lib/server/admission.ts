/**
 * Admission of strangers: who a handshake counts against, how fast each source may start
 * handshakes, the back-off after failed proofs, and the scheduler that runs handshake work
 * only after the members' traffic of the same event-loop turn, fairly across sources.
 *
 * A source is an IPv4 address or an IPv6 /64 (one subscriber's usual allocation), or a Tor
 * circuit when Tor names it through the PROXY protocol (`serve --proxy-protocol`). IPv6
 * addresses that carry an IPv4 address (NAT64, 6to4, Teredo, IPv4-mapped and -translated)
 * are that IPv4 address: a whole NAT64 /96 is the IPv4 internet, not one subscriber. A
 * `PROXY UNKNOWN` connection is a source of its own for connection counts, while its
 * handshake rate, failure back-off, join rate and open rooms count against one budget
 * shared by all such connections (`budgetKey`). Behind a
 * proxy (Tor onion service, reverse proxy) every peer has the proxy's address, so sources
 * are not keyed by address at all: each connection is its own source, and what protects
 * the daemon is the bounded pending table (oldest evicted), the per-turn budget and fairness.
 */
import { isIPv6 } from 'node:net';
import { UNKNOWN_PEER } from '../transport/proxy-protocol.js';

/** The limits the admission enforces (a subset of DaemonLimits). */
export interface AdmissionLimits {
  /** srp_init per second per source; 0 = unlimited. */
  handshakeRatePerSource: number;
  /** srp_init a source may start at once before the rate applies. */
  handshakeBurstPerSource: number;
  /** Failed proofs from a source before each further failure backs it off. */
  failuresBeforeBackoff: number;
  /** Sources remembered at once (the table's bound; the least recently seen go first). */
  maxTrackedSources: number;
}

/** First back-off after the free failures; it doubles with every further failure. */
export const BACKOFF_BASE_MS = 1000;
/** The longest back-off. */
export const BACKOFF_MAX_MS = 60_000;
/** A source that has not been seen for this long is forgotten (its failures forgiven). */
export const SOURCE_IDLE_MS = 10 * 60_000;
/** Handshake work run per event-loop turn before the loop goes back to I/O (ms). */
export const TURN_BUDGET_MS = 2;

/** The key a source's handshake budget and back-off count against (`sourceKey`'s, or the shared one). */
export function budgetKey(source: string | undefined): string | undefined {
  return source?.startsWith(`${UNKNOWN_PEER}#`) ? UNKNOWN_PEER : source;
}

const v4 = (hi: number, lo: number): string => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/**
 * The IPv4 address inside an IPv6 address of a translation or tunnelling prefix, or
 * undefined: IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96
 * (RFC 6052) and the local-use 64:ff9b:1::/48 (RFC 8215, taken with its usual /96 form),
 * 6to4 2002::/16 (RFC 3056) and Teredo 2001::/32 (the client's address, inverted, RFC 4380).
 */
function embeddedIPv4(g: readonly number[]): string | undefined {
  const zeros = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return v4(g[6]!, g[7]!);
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  if (g[0] === 0x2001 && g[1] === 0) return v4(g[6]! ^ 0xffff, g[7]! ^ 0xffff);
  return undefined;
}

/** Expands an IPv6 address to its 8 groups (zone dropped); undefined if it is not IPv6. */
function ipv6Groups(address: string): number[] | undefined {
  const bare = address.split('%')[0]!;
  if (!isIPv6(bare)) return undefined;
  let text = bare;
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = 8 - left.length - right.length;
  return [...left, ...new Array<number>(Math.max(0, fill)).fill(0), ...right];
}

/**
 * The key a connection's limits count against: the IPv4 address, the IPv6 /64 prefix, the
 * transport's label for Unix sockets and the like, or `undefined` behind a proxy.
 */
export function sourceKey(peer: string, behindProxy: boolean): string | undefined {
  if (behindProxy) return undefined;
  const groups = ipv6Groups(peer);
  if (!groups) return peer;
  const ipv4 = embeddedIPv4(groups);
  if (ipv4 !== undefined) return ipv4;
  // Tor's HiddenServiceExportCircuitID puts the circuit's id in the last 32 bits of
  // fc00:dead:beef:4dad::/64 (PROXY protocol): each circuit is a source of its own.
  if (groups[0] === 0xfc00 && groups[1] === 0xdead && groups[2] === 0xbeef && groups[3] === 0x4dad) {
    return `tor-circuit-${(groups[6]! * 0x10000 + groups[7]!).toString()}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

interface SourceState {
  tokens: number;
  /** Last refill (monotonic ms). */
  last: number;
  /** Last time the source was seen (monotonic ms). */
  seen: number;
  failures: number;
  /** No handshake from this source starts before this (monotonic ms). */
  blockedUntil: number;
}

/** What `fail()` reports, for the log. */
export interface FailureRecord {
  failures: number;
  backoffMs: number;
}

/**
 * Per-source handshake budget and failure back-off, in a table bounded by
 * `maxTrackedSources`: kept in least-recently-seen order, idle sources expire, and when the
 * table is full the least recently seen is forgotten.
 */
export class SourceTable {
  private readonly sources = new Map<string, SourceState>();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.sources.size;
  }

  /** A burst below one handshake would never let the source start one. */
  private get burst(): number {
    return Math.max(1, this.limits.handshakeBurstPerSource);
  }

  private get(key: string): SourceState {
    const now = this.now();
    let state = this.sources.get(key);
    if (state) this.sources.delete(key);
    // A source idle for long is a new source: its failures are forgiven.
    if (state && now - state.seen >= SOURCE_IDLE_MS) state = undefined;
    if (!state) {
      this.expire(now);
      if (this.sources.size >= this.limits.maxTrackedSources) {
        const oldest = this.sources.keys().next();
        if (!oldest.done) this.sources.delete(oldest.value);
      }
      state = {
        tokens: this.burst,
        last: now,
        seen: now,
        failures: 0,
        blockedUntil: 0,
      };
    }
    // Re-inserted at the end: the map stays in least-recently-seen order.
    state.seen = now;
    this.sources.set(key, state);
    const rate = this.limits.handshakeRatePerSource;
    if (rate > 0) {
      state.tokens = Math.min(this.burst, state.tokens + ((now - state.last) * rate) / 1000);
    }
    state.last = now;
    return state;
  }

  /** Forgets sources not seen for SOURCE_IDLE_MS (the oldest are first in the map). */
  private expire(now: number): void {
    for (const [key, state] of this.sources) {
      if (now - state.seen < SOURCE_IDLE_MS) return;
      this.sources.delete(key);
    }
  }

  /** Milliseconds before `key` may start a handshake (0: now). */
  waitMs(key: string): number {
    const state = this.get(key);
    const now = this.now();
    const blocked = Math.max(0, state.blockedUntil - now);
    const rate = this.limits.handshakeRatePerSource;
    const forTokens = rate > 0 && state.tokens < 1 ? ((1 - state.tokens) * 1000) / rate : 0;
    return Math.ceil(Math.max(blocked, forTokens));
  }

  /** Spends one handshake of `key`'s budget. */
  take(key: string): void {
    if (this.limits.handshakeRatePerSource > 0) this.get(key).tokens -= 1;
  }

  /** Counts a failed proof; past the free failures, backs the source off (doubling). */
  fail(key: string): FailureRecord {
    const state = this.get(key);
    state.failures++;
    const over = state.failures - this.limits.failuresBeforeBackoff;
    if (over <= 0) return { failures: state.failures, backoffMs: 0 };
    const backoffMs = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(over - 1, 16));
    state.blockedUntil = this.now() + backoffMs;
    return { failures: state.failures, backoffMs };
  }

  /** A proof succeeded: the source's failures are forgiven. */
  succeed(key: string): void {
    const state = this.get(key);
    state.failures = 0;
    state.blockedUntil = 0;
  }
}

/** A unit of handshake work; `alive()` false means its connection is gone (skipped, not charged). */
export interface HandshakeJob {
  alive(): boolean;
  run(): void;
}

/**
 * Runs handshake work (the expensive srp_init) from `setImmediate`, i.e. after the I/O of the
 * turn (members' records, pings) has been handled, at most TURN_BUDGET_MS per turn, and
 * round-robin across sources so one source's backlog never delays another's handshake.
 * A source over its rate or backed off waits; its jobs stay queued (bounded by the pending
 * table, since each unfinished handshake has at most one job).
 */
export class HandshakeScheduler {
  private readonly queues = new Map<string, HandshakeJob[]>();
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private anonymous = 0;

  constructor(private readonly table: SourceTable | undefined) {}

  /** Queues `job` for `key` (undefined: a source of its own). */
  submit(key: string | undefined, job: HandshakeJob): void {
    const k = key ?? `#${this.anonymous++}`;
    const queue = this.queues.get(k);
    if (queue) queue.push(job);
    else this.queues.set(k, [job]);
    this.schedule(0);
  }

  /** Milliseconds `key` would wait before its next handshake may start. */
  waitMs(key: string | undefined): number {
    return key === undefined || !this.table ? 0 : this.table.waitMs(key);
  }

  private schedule(delayMs: number): void {
    if (this.immediate) return;
    if (delayMs <= 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.immediate = setImmediate(() => this.run());
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule(0);
      }, delayMs);
    }
  }

  private run(): void {
    this.immediate = undefined;
    const start = performance.now();
    let minWait = Number.POSITIVE_INFINITY;
    for (const key of [...this.queues.keys()]) {
      const queue = this.queues.get(key)!;
      while (queue.length > 0 && !queue[0]!.alive()) queue.shift();
      if (queue.length === 0) {
        this.queues.delete(key);
        continue;
      }
      const tracked = this.table && !key.startsWith('#') ? key : undefined;
      const wait = tracked ? this.table!.waitMs(tracked) : 0;
      if (wait > 0) {
        minWait = Math.min(minWait, wait);
        continue;
      }
      const job = queue.shift()!;
      if (tracked) this.table!.take(tracked);
      // To the back of the round.
      this.queues.delete(key);
      if (queue.length > 0) this.queues.set(key, queue);
      try {
        job.run();
      } catch {
        // A job handles its own errors; one that escapes must not stall every other source.
      }
      if (performance.now() - start >= TURN_BUDGET_MS) {
        this.schedule(0);
        return;
      }
    }
    if (this.queues.size === 0) return;
    // Something ran or every source with work waits: go round again, now or when one is due.
    let runnable = false;
    for (const key of this.queues.keys()) {
      if (!this.table || key.startsWith('#') || this.table.waitMs(key) === 0) {
        runnable = true;
        break;
      }
    }
    this.schedule(runnable ? 0 : Math.max(1, minWait === Number.POSITIVE_INFINITY ? 1 : minWait));
  }

  /** Drops every queued job and timer (shutdown). */
  clear(): void {
    this.queues.clear();
    if (this.immediate) clearImmediate(this.immediate);
    clearTimeout(this.timer);
    this.immediate = undefined;
    this.timer = undefined;
  }
}
