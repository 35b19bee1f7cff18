/**
 * A hostile daemon for client tests: it runs the real server handshake (so a real client
 * authenticates), then answers the client's channel frames with whatever a test scripts,
 * including frames our daemon would never send.
 */
import { once } from 'node:events';
import net from 'node:net';
import { ChannelOpener, ChannelSealer } from '../../lib/crypto/channel.js';
import { parseObject } from '../../lib/protocol/codec.js';
import { ServerHandshake } from '../../lib/protocol/handshake-server.js';
import { defaultDaemonLimits } from '../../lib/protocol/limits.js';
import { openDirect, sealDirect } from '../../lib/protocol/records.js';
import { WireDecoder } from '../../lib/protocol/wire-decoder.js';
import { credentialsFromPassword, RoomRegistry } from '../../lib/server/rooms.js';

type Frame = Record<string, unknown>;

export interface ScriptedPeer {
  /** Seals and sends frames in one record. */
  send(...frames: Frame[]): void;
  /** Drops the connection. */
  destroy(): void;
}

export interface ScriptedDaemon {
  port: number;
  stop(): Promise<void>;
}

/** Starts it with room `chat` / `password`; `onFrame` gets each frame the client seals. */
export async function startScriptedDaemon(
  password: string,
  onFrame: (frame: Frame, peer: ScriptedPeer) => void,
): Promise<ScriptedDaemon> {
  const registry = new RoomRegistry({ ...defaultDaemonLimits, openRooms: false });
  registry.addStatic('chat', await credentialsFromPassword('chat', password, false));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new WireDecoder(1 << 20);
    const handshake = new ServerHandshake(registry);
    let sealer: ChannelSealer | undefined;
    let opener: ChannelOpener | undefined;
    const peer: ScriptedPeer = {
      send: (...frames) => socket.write(sealDirect(sealer!, frames.map((f) => JSON.stringify(f)).join('\n'))),
      destroy: () => socket.destroy(),
    };
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let unit = decoder.next(); unit !== undefined; unit = decoder.next()) {
        if (opener) {
          const text = openDirect(opener, unit as Buffer).toString('utf8');
          for (const part of text.split('\n')) onFrame(parseObject(part), peer);
          continue;
        }
        const { reply, result } = handshake.handle(parseObject(unit as string));
        socket.write(`${JSON.stringify(reply)}\n`);
        if (result) {
          sealer = new ChannelSealer(result.s2c);
          opener = new ChannelOpener(result.c2s);
          decoder.startRecords(1 << 20);
        }
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** The init frame our daemon would send to `username`. */
export function initFor(username: string): Frame {
  const you = { user_id: 'u1', username };
  return { type: 'init', you, room: 'chat', messages: [], users: [you] };
}
