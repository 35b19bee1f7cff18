/**
 * The daemon's unfinished handshakes, oldest first, and how many each source holds: when the
 * table is full, the source holding the most gives up its oldest, so idle or slow sockets
 * cannot lock new clients out.
 */
import type { ClientState } from './connection-state.js';
import type { Logger } from './log.js';

export class PendingHandshakes {
  /** Unfinished handshakes, oldest first (evicted first when the table is full). */
  private readonly clients = new Set<ClientState>();
  /** Unfinished handshakes per source (sources keyed by address only). */
  private readonly bySource = new Map<string, number>();
  /** Unfinished handshakes closed to make room for new ones. */
  evicted = 0;

  constructor(private readonly logger: Logger) {}

  get size(): number {
    return this.clients.size;
  }

  add(client: ClientState): void {
    this.clients.add(client);
    if (client.source !== undefined) {
      this.bySource.set(client.source, (this.bySource.get(client.source) ?? 0) + 1);
    }
  }

  remove(client: ClientState): void {
    if (!this.clients.delete(client) || client.source === undefined) return;
    const left = (this.bySource.get(client.source) ?? 1) - 1;
    if (left <= 0) this.bySource.delete(client.source);
    else this.bySource.set(client.source, left);
  }

  /**
   * A full pending table makes room instead of refusing: the source holding the most
   * unfinished handshakes gives up its oldest (behind a proxy, or when no source holds more
   * than one: the oldest of all). Idle or slow sockets then cannot lock new clients out, and
   * a source filling the table pushes out its own handshakes first.
   */
  evictOne(): void {
    let top: string | undefined;
    let most = 1;
    for (const [source, n] of this.bySource) {
      if (n > most) {
        top = source;
        most = n;
      }
    }
    let victim: ClientState | undefined;
    for (const c of this.clients) {
      if (top === undefined || c.source === top) {
        victim = c;
        break;
      }
    }
    if (!victim) return;
    this.evicted++;
    this.logger.detail(
      `closed the oldest unfinished handshake of ${victim.link.conn.peer}: the pending table is full`,
    );
    victim.link.close('busy');
  }
}
