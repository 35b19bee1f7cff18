/**
 * The direct channel of a cluster's room (`DirectChannel` of lib/rooms/seam.ts): private
 * messages to a member connected to another daemon, sealed on the room bus (lib/cluster/bus.ts)
 * under a subject of their own, never stored. Every daemon with the room open receives them
 * and hands each to its member, if it has it.
 */
import type { DirectChannel } from '../rooms/seam.js';
import type { BusEvent, RoomBus } from './bus.js';

export class BusDirectChannel implements DirectChannel {
  private readonly listeners = new Set<(toUserId: string, json: string) => void>();

  /** `channel`: the bus's room name for this room's direct frames (a stable key of the room). */
  constructor(
    private readonly bus: RoomBus,
    private readonly channel: string,
  ) {}

  send(toUserId: string, json: string): void {
    this.bus.publish(this.channel, { to: toUserId, frame: json });
  }

  watch(listener: (toUserId: string, json: string) => void): () => void {
    if (this.listeners.size === 0) this.bus.subscribeRoom(this.channel, (event) => this.take(event));
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.bus.unsubscribeRoom(this.channel);
    };
  }

  private take(event: BusEvent): void {
    const { to, frame } = event;
    if (typeof to !== 'string' || typeof frame !== 'string') return;
    for (const listener of [...this.listeners]) listener(to, frame);
  }
}
