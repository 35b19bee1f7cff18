/**
 * The daemon's token buckets that outlive one connection: each room's inflow (bytes, shared
 * by its members' links) and each source's joins (bounded by `maxTrackedSources`, the least
 * recently used forgotten first).
 */
import type { DaemonLimits } from '../protocol/limits.js';
import { TokenBucket } from './rate.js';
import type { Room } from './room.js';

export class RateBuckets {
  private readonly roomInflow = new WeakMap<Room, TokenBucket>();
  /** Least recently used first. */
  private readonly joinBuckets = new Map<string, TokenBucket>();

  constructor(private readonly limits: DaemonLimits) {}

  /** The room's inflow bucket, shared by its members' links (undefined: no room rate). */
  inflowOf(room: Room): TokenBucket | undefined {
    const { roomRateBytesPerSecond, roomBurstBytes } = this.limits;
    if (roomRateBytesPerSecond <= 0) return undefined;
    let bucket = this.roomInflow.get(room);
    if (!bucket) {
      bucket = new TokenBucket(roomRateBytesPerSecond, roomBurstBytes);
      this.roomInflow.set(room, bucket);
    }
    return bucket;
  }

  /** The source's join bucket (undefined: no join rate, or no source behind a proxy). */
  joinBucketOf(source: string | undefined): TokenBucket | undefined {
    const { joinRatePerSource, joinBurstPerSource, maxTrackedSources } = this.limits;
    if (source === undefined || joinRatePerSource <= 0) return undefined;
    let bucket = this.joinBuckets.get(source);
    if (bucket) this.joinBuckets.delete(source);
    else {
      bucket = new TokenBucket(joinRatePerSource, joinBurstPerSource);
      if (this.joinBuckets.size >= maxTrackedSources) {
        const oldest = this.joinBuckets.keys().next().value;
        if (oldest !== undefined) this.joinBuckets.delete(oldest);
      }
    }
    this.joinBuckets.set(source, bucket);
    return bucket;
  }
}
