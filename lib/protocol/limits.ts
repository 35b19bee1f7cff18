/**
 * Every limit of the daemon and the client with its default, in one place. Each daemon
 * limit is also a `serve` flag (see commands/serve.ts), and docs/protocol.md lists them.
 */

export interface DaemonLimits {
  /** Longest line accepted before authentication (bytes, excluding the newline). */
  maxHandshakeLineBytes: number;
  /** Longest channel record accepted from a client after authentication (bytes of base64). */
  maxRecordBytes: number;
  /** Longest message token accepted inside a `message` frame (characters). */
  maxMessageChars: number;
  /** Time allowed from accept to a completed handshake (ms). */
  handshakeTimeoutMs: number;
  /** Time allowed from a completed handshake to a successful join (ms). */
  joinTimeoutMs: number;
  /** Connections that have not completed the handshake, all addresses together. */
  maxPendingHandshakes: number;
  /** Connections in total (pending and authenticated). */
  maxClients: number;
  /** Connections from one peer address (TCP remote IP; Unix and memory count as one address). */
  maxClientsPerAddress: number;
  /** Rooms that exist at once (static rooms count; open rooms are created up to this). */
  maxRooms: number;
  /** Members in one room. */
  maxMembersPerRoom: number;
  /** Messages kept per room and replayed to a late joiner; 0 keeps none. */
  historySize: number;
  /** Characters of ciphertext kept per room's history: the oldest messages go first. */
  historyBytes: number;
  /** Bytes queued for one member (not yet written to its socket) before it is disconnected. */
  maxQueueBytes: number;
  /** Sustained frames per second from one member before reads are paused; 0 = unlimited. */
  rateFramesPerSecond: number;
  /** Burst of frames a member may send at once before the rate applies. */
  rateBurst: number;
  /** Sustained bytes per second from one member before reads are paused; 0 = unlimited. */
  rateBytesPerSecond: number;
  /** Burst of bytes a member may send at once. */
  rateBurstBytes: number;
}

export const defaultDaemonLimits: Readonly<DaemonLimits> = Object.freeze({
  maxHandshakeLineBytes: 4096,
  maxRecordBytes: 96 * 1024,
  maxMessageChars: 64 * 1024,
  handshakeTimeoutMs: 10_000,
  joinTimeoutMs: 60_000,
  maxPendingHandshakes: 128,
  maxClients: 1024,
  maxClientsPerAddress: 32,
  maxRooms: 256,
  maxMembersPerRoom: 256,
  historySize: 50,
  historyBytes: 1024 * 1024,
  maxQueueBytes: 4 * 1024 * 1024,
  rateFramesPerSecond: 100,
  rateBurst: 500,
  rateBytesPerSecond: 256 * 1024,
  rateBurstBytes: 1024 * 1024,
});

export interface ClientLimits {
  /** Longest line accepted from the daemon before authentication. */
  maxHandshakeLineBytes: number;
  /** Longest channel record accepted from the daemon (an init with a full history is the largest). */
  maxRecordBytes: number;
  /** Time allowed for each step of the handshake (ms). */
  stepTimeoutMs: number;
}

export const defaultClientLimits: Readonly<ClientLimits> = Object.freeze({
  maxHandshakeLineBytes: 8192,
  maxRecordBytes: 32 * 1024 * 1024,
  stepTimeoutMs: 15_000,
});
