/**
 * The room's events as they reach a session, made into ChatEvents: messages opened and
 * checked by the protocol, skipped when our place in the log (the cursor) says they were
 * handled already; wipes and gaps counted; our own echoes and `received` confirming what we
 * sent; membership and private messages through the room view. An `init` yields the room's
 * history, after a rejoin only what we had not seen, and how many events the daemon will hand
 * us after our cursor (up to the log's head then): those messages come marked as history.
 */
import type { Cursor, MessageData, ServerFrame } from '../../protocol/frames.js';
import type { ChatEvent, MessageEvent } from '../events.js';
import { RoomCursor } from './cursor.js';
import type { SessionProtocol } from './protocol.js';
import type { RoomView } from './room-view.js';
import type { Sender } from './sender.js';

/** The daemon's message id `<run prefix>-<n>` split, to tell what came after what we saw. */
function daemonSeq(id: string): { prefix: string; n: number } | undefined {
  const dash = id.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const n = Number(id.slice(dash + 1));
  return Number.isSafeInteger(n) ? { prefix: id.slice(0, dash), n } : undefined;
}

export class RoomFeed {
  /** Our place in the room's log (when the daemon numbers events). */
  private readonly cursor = new RoomCursor();
  /** The latest daemon message id seen: a rejoin's history after it is what we missed. */
  private lastSeq: { prefix: string; n: number } | undefined;
  /** The log's head at the last rejoin: messages up to it were missed, not live. */
  private missedUpTo = 0;

  constructor(
    private readonly protocol: SessionProtocol,
    private readonly view: RoomView,
    private readonly sender: Sender,
    private readonly emit: (event: ChatEvent) => void,
  ) {}

  /** Messages the daemon told us were lost while we were away (not wiped: gone from its window). */
  get lost(): number {
    return this.cursor.lost;
  }

  /** Our place in the log, handed to the daemon on a rejoin (undefined if it numbers nothing). */
  get position(): Cursor | undefined {
    return this.cursor.value;
  }

  /**
   * An `init`: where the log is, the history it carries that is new to us, and `behind`: the
   * events the daemon hands us after it (numbered up to the log's head); `restarted` when the
   * log started over since our last cursor (another epoch).
   */
  init(
    frame: Extract<ServerFrame, { type: 'init' }>,
    rejoin: boolean,
  ): { history: MessageEvent[]; behind: number; restarted: boolean } {
    this.view.reset(frame, Date.now());
    const restarted = this.cursor.start(frame.epoch, frame.seq);
    const behind = frame.head !== undefined && frame.seq !== undefined ? frame.head - frame.seq : 0;
    this.missedUpTo = rejoin && behind > 0 ? (frame.head ?? 0) : 0;
    const seenBefore = this.lastSeq;
    const history: MessageEvent[] = [];
    for (const data of frame.messages) {
      // After a rejoin only what came after the last message we saw is new to us.
      const seq = daemonSeq(data.id);
      const seen = rejoin && seq && seenBefore?.prefix === seq.prefix && seq.n <= seenBefore.n;
      if (seen) continue;
      const event = this.open(data, true);
      if (event) history.push(event);
    }
    return { history, behind, restarted };
  }

  /** Handles a frame of the room's events; false for a frame that is not one. */
  handle(frame: ServerFrame, at: number): boolean {
    switch (frame.type) {
      case 'message': {
        if (!this.cursor.accept(frame.seq)) return true; // handled already
        const missed = frame.seq !== undefined && frame.seq <= this.missedUpTo;
        const event = this.open(frame.data, missed);
        if (event) this.emit(event);
        return true;
      }
      case 'received': {
        // A resend the daemon had relayed already: shown to us now, since its echo was lost.
        const outgoing = this.sender.confirmed(frame.mid);
        if (!outgoing) return true;
        const { user_id, username } = this.view.me;
        this.emit({
          type: 'message',
          id: '',
          at,
          userId: user_id,
          username,
          kind: outgoing.kind,
          body: outgoing.body,
          mine: true,
          history: false,
          undecryptable: false,
          signature: 'valid',
        });
        return true;
      }
      case 'user_joined':
      case 'user_left':
      case 'user_renamed':
        this.view.apply(frame, at);
        return true;
      case 'cleared':
        if (this.cursor.accept(frame.seq)) this.emit({ type: 'cleared', at, by: frame.by });
        return true;
      case 'gap':
        this.cursor.skip(frame.seq, frame.lost, frame.wiped);
        this.emit({ type: 'gap', at, lost: frame.lost, wiped: frame.wiped });
        return true;
      case 'private': {
        const event = this.view.openPrivate(frame.data);
        if (!event) return true;
        if (event.mine) this.sender.privateReceipt(frame.data.text);
        this.emit(event);
        return true;
      }
      default:
        return false;
    }
  }

  /** Decrypts and checks one message; undefined for a replay of a message already shown. */
  private open(data: MessageData, history: boolean): MessageEvent | undefined {
    const seq = daemonSeq(data.id);
    if (seq) this.lastSeq = seq;
    return this.protocol.open(data, history);
  }
}
