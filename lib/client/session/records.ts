/**
 * The session's record layer: the one place the client seals what it writes and opens and
 * checks what the daemon sends. In protocol v3 (docs/protocol.md "Records (v3)") records are
 * binary: the client seals each frame as a direct record on its own channel; the daemon's
 * records are direct ones or broadcast ones (a room batch sealed once under the room
 * broadcast key, behind a tag for this member), verified in one order by DaemonStreamReader
 * (a record dropped, replayed, reordered, cut short or forged by another member fails).
 * The `room_key` frames that hand over the broadcast key are consumed here; the session sees
 * the other frames, each checked by readServerFrame. The original protocol's plaintext lines
 * have their own layer (original.ts). The session only sees this interface.
 */
import { ChannelOpener, ChannelSealer } from '../../crypto/channel.js';
import { wipe } from '../../crypto/secret.js';
import { parseObject } from '../../protocol/codec.js';
import { readServerFrame, type ServerFrame } from '../../protocol/frames.js';
import { DaemonStreamReader, sealDirect } from '../../protocol/records.js';

/** What one connection's records carry. */
export interface RecordLayer {
  /** Whether records are binary after the handshake (v3); else lines (an original daemon). */
  readonly binary: boolean;
  /** What to write for one frame: its record with the framing. */
  seal(frame: object): string | Buffer;
  /**
   * The frames of one record from the daemon, in order. Throws when the record does not open
   * or a frame is malformed; the layer is then unusable and the connection must be dropped.
   */
  open(record: string | Buffer): ServerFrame[];
  /** Wipes the keys; the layer is not used again. */
  destroy(): void;
}

/** The channel keys of one connection, as the handshake derived them. */
export interface ChannelKeys {
  /** Key of the records the client seals. */
  c2s: Buffer;
  /** Key of the records the client opens. */
  s2c: Buffer;
  /** Key of the member tags on the daemon's broadcast records. */
  tag: Buffer;
}

/** The current protocol's records; the layer keeps copies and wipes `keys`. */
export function channelRecords(keys: ChannelKeys): RecordLayer {
  const sealer = new ChannelSealer(keys.c2s);
  const reader = new DaemonStreamReader(new ChannelOpener(keys.s2c), keys.tag);
  wipe(keys.c2s, keys.s2c, keys.tag);
  return {
    binary: true,
    seal: (frame) => sealDirect(sealer, JSON.stringify(frame)),
    open: (record) => {
      if (typeof record === 'string') throw new TypeError('a line where a record was expected');
      const frames: ServerFrame[] = [];
      for (const part of reader.open(record).toString('utf8').split('\n')) {
        const frame = readServerFrame(parseObject(part));
        if (frame.type !== 'room_key') {
          frames.push(frame);
          continue;
        }
        const id = Buffer.from(frame.id, 'base64');
        const key = Buffer.from(frame.key, 'base64');
        reader.setRoomKey(id, key);
        wipe(key);
      }
      return frames;
    },
    destroy: () => {
      sealer.destroy();
      reader.destroy();
    },
  };
}
