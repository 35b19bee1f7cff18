/**
 * Leases on server time. nats-server 2.9 has a TTL per KV bucket, not per key, and a key
 * that expires vanishes without a delete marker (no watcher hears it). So every claim on a
 * name points at a lease key in a bucket whose TTL is the lease time: the claiming daemon's
 * own key (`d…`, renewed by that daemon while it lives) for a present member, or a hold key
 * (`h…`, written once, in a bucket whose TTL is the hold time) for a held name. Whether a
 * lease still exists is asked of the server, whose clock alone ages the keys: no daemon's
 * wall clock is read or compared anywhere. A daemon whose own key lapsed (it was cut off
 * longer than the lease) learns it at its next renewal and makes a new one.
 */
import { randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';

/** A lease as a name claim points at it. */
export type LeaseRef = `d:${string}` | `h:${string}`;

export interface LeasesOptions {
  /** The bucket of daemon keys (TTL: the lease time). */
  daemons: KV;
  /** The bucket of hold keys (TTL: the hold time). */
  holds: KV;
  /** This daemon's random run id (hex). */
  runId: string;
  /** The lease time (ms): renewed every third of it. */
  leaseMs: number;
  /** Told when this daemon's own key had lapsed (others may have taken its members for gone). */
  onLapsed?(): void;
}

export class Leases {
  private revision = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The renewal under way (the timer does not start another beside it). */
  private renewing: Promise<void> | undefined;

  private constructor(private readonly options: LeasesOptions) {}

  /** Creates this daemon's key and renews it every third of the lease time. */
  static async start(options: LeasesOptions): Promise<Leases> {
    const leases = new Leases(options);
    await leases.create();
    leases.timer = setInterval(
      () => {
        if (!leases.renewing) void leases.renew();
      },
      Math.max(50, options.leaseMs / 3),
    );
    leases.timer.unref();
    return leases;
  }

  /** The reference of this daemon's own lease. */
  get own(): LeaseRef {
    return `d:${this.options.runId}`;
  }

  /** A new hold key (it vanishes after the hold time); its reference. */
  async hold(): Promise<LeaseRef> {
    const id = randomBytes(16).toString('hex');
    await this.options.holds.put(`h${id}`, new Uint8Array(0));
    return `h:${id}`;
  }

  /** Drops a hold key early (its name was taken back or released). */
  async dropHold(ref: LeaseRef): Promise<void> {
    if (ref.startsWith('h:')) await this.options.holds.purge(`h${ref.slice(2)}`).catch(() => undefined);
  }

  /** Whether the lease still exists on the server. */
  async alive(ref: LeaseRef): Promise<boolean> {
    const bucket = ref.startsWith('d:') ? this.options.daemons : this.options.holds;
    const entry = await bucket.get(`${ref[0]}${ref.slice(2)}`);
    return entry !== null && entry.operation === 'PUT';
  }

  /**
   * Renews now; on a lapse makes a new key and says so. Also run after a reconnection, and
   * then even while an earlier renewal still waits: sent before the server went away, its
   * answer may come only after its timeout, and meanwhile the lease would lapse on the new
   * server and the other daemons would take this one's members for gone.
   */
  async renew(): Promise<void> {
    const attempt = this.renewOnce();
    this.renewing = attempt;
    try {
      await attempt;
    } finally {
      if (this.renewing === attempt) this.renewing = undefined;
    }
  }

  private async renewOnce(): Promise<void> {
    const { daemons, leaseMs } = this.options;
    try {
      this.revision = await daemons.update(this.key(), new Uint8Array(0), this.revision, leaseMs);
      return;
    } catch {
      // Refused: the key is gone (expired, or the server started over), or its revision moved
      // on without us learning it (an update applied whose answer was lost). Only this daemon
      // writes its key: one still there is renewed at its revision; one gone is made again,
      // and the owner is told.
    }
    const entry = await daemons.get(this.key()).catch(() => undefined);
    if (entry === undefined) return; // no answer: the next renewal tries again
    if (entry !== null && entry.operation === 'PUT') {
      this.revision = await daemons
        .update(this.key(), new Uint8Array(0), entry.revision, leaseMs)
        .catch(() => this.revision);
      return;
    }
    const lapsed = await this.create().then(
      () => true,
      () => false,
    );
    if (lapsed) this.options.onLapsed?.();
  }

  /** Stops renewing and deletes the key: the other daemons see this one gone at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.options.daemons.purge(this.key()).catch(() => undefined);
  }

  private key(): string {
    return `d${this.options.runId}`;
  }

  private async create(): Promise<void> {
    this.revision = await this.options.daemons.create(this.key(), new Uint8Array(0));
  }
}
