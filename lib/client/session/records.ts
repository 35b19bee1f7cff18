/**
 * The session's record layer: the one place the client seals what it writes and opens and
 * checks what the daemon sends. In the current protocol every record is sealed with the
 * connection's channel keys (AES-256-GCM, one counter per direction as the nonce, so a
 * record dropped, replayed or reordered fails to open); a record from the daemon carries one
 * or more frames (a tick's batch), each checked by readServerFrame. The original protocol's
 * plaintext lines have their own layer (original.ts). The session only sees this interface.
 */
import { ChannelOpener, ChannelSealer } from '../../crypto/channel.js';
import { wipe } from '../../crypto/secret.js';
import { parseObject } from '../../protocol/codec.js';
import { readServerFrame, type ServerFrame } from '../../protocol/frames.js';

/** What one connection's records carry. */
export interface RecordLayer {
  /** What to write for one frame: its record with the framing (a line, newline included). */
  seal(frame: object): string | Buffer;
  /**
   * The frames of one record from the daemon, in order. Throws when the record does not open
   * or a frame is malformed; the layer is then unusable and the connection must be dropped.
   */
  open(record: string): ServerFrame[];
  /** Wipes the keys; the layer is not used again. */
  destroy(): void;
}

/** The channel keys of one connection, as the handshake derived them. */
export interface ChannelKeys {
  /** Key of the records the client seals. */
  c2s: Buffer;
  /** Key of the records the client opens. */
  s2c: Buffer;
}

/** The current protocol's sealed records; the layer keeps copies and wipes `keys`. */
export function channelRecords(keys: ChannelKeys): RecordLayer {
  const sealer = new ChannelSealer(keys.c2s);
  const opener = new ChannelOpener(keys.s2c);
  wipe(keys.c2s, keys.s2c);
  return {
    seal: (frame) => `${sealer.seal(JSON.stringify(frame))}\n`,
    open: (record) =>
      opener
        .open(record)
        .toString('utf8')
        .split('\n')
        .map((part) => readServerFrame(parseObject(part))),
    destroy: () => {
      sealer.destroy();
      opener.destroy();
    },
  };
}
