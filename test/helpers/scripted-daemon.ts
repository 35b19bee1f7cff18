/**
 * A hostile daemon for client tests: it runs the real server handshake (so a real client
 * authenticates), then answers the client's channel frames with whatever a test scripts,
 * including frames our daemon would never send.
 */
import { once } from 'node:events';
import net from 'node:net';
import { ChannelOpener, ChannelSealer } from '../../lib/crypto/channel.js';
import { LineDecoder, parseObject } from '../../lib/protocol/codec.js';
import { ServerHandshake } from '../../lib/protocol/handshake-server.js';
import { defaultDaemonLimits } from '../../lib/protocol/limits.js';
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
    const decoder = new LineDecoder(1 << 20);
    const handshake = new ServerHandshake(registry);
    let sealer: ChannelSealer | undefined;
    let opener: ChannelOpener | undefined;
    const peer: ScriptedPeer = {
      send: (...frames) => socket.write(`${sealer!.seal(frames.map((f) => JSON.stringify(f)).join('\n'))}\n`),
      destroy: () => socket.destroy(),
    };
    socket.on('data', (chunk: Buffer) => {
      for (const line of decoder.push(chunk)) {
        if (opener) {
          for (const part of opener.open(line).toString('utf8').split('\n')) onFrame(parseObject(part), peer);
          continue;
        }
        const { reply, result } = handshake.handle(parseObject(line));
        socket.write(`${JSON.stringify(reply)}\n`);
        if (result) {
          sealer = new ChannelSealer(result.s2c);
          opener = new ChannelOpener(result.c2s);
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
