/**
 * Test helper: an on-path attacker as a real TCP proxy. It forwards newline-framed lines both
 * ways and lets a test rewrite each plaintext JSON line (the handshake) before passing it on;
 * anything that is not a JSON object passes unchanged. After the last handshake line of a
 * direction (`srp_verify` up, `H_AMK` down) the v3 binary records pass as they are, each read
 * kept as latin1 text. Everything it forwarded is kept, per direction, so a test can see what
 * crossed.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export type Rewrite = (frame: Record<string, unknown>) => Record<string, unknown>;

export class RewritingProxy {
  /** Lines as forwarded (after rewriting): client to daemon, daemon to client. */
  readonly up: string[] = [];
  readonly down: string[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(
    targetPort: number,
    rewrite: { up?: Rewrite; down?: Rewrite } = {},
  ): Promise<RewritingProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const proxy = new RewritingProxy(server, address.port);
    server.on('connection', (client) => {
      const upstream = tcpConnect(targetPort, '127.0.0.1');
      proxy.track(client);
      proxy.track(upstream);
      proxy.pipe(client, upstream, proxy.up, rewrite.up);
      proxy.pipe(upstream, client, proxy.down, rewrite.down);
    });
    return proxy;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }

  private pipe(from: Socket, to: Socket, seen: string[], rewrite: Rewrite | undefined): void {
    let buffered = Buffer.alloc(0);
    let raw = false;
    from.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      let nl = raw ? -1 : buffered.indexOf(0x0a);
      while (nl >= 0) {
        const line = rewriteLine(buffered.subarray(0, nl).toString('utf8'), rewrite);
        buffered = buffered.subarray(nl + 1);
        seen.push(line);
        to.write(`${line}\n`);
        raw = line.includes('"srp_verify"') || line.includes('"H_AMK"');
        nl = raw ? -1 : buffered.indexOf(0x0a);
      }
      if (raw && buffered.length > 0) {
        seen.push(buffered.toString('latin1'));
        to.write(buffered);
        buffered = Buffer.alloc(0);
      }
    });
    from.on('close', () => to.destroy());
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.server.close();
    await once(this.server, 'close');
  }
}

function rewriteLine(line: string, rewrite: Rewrite | undefined): string {
  if (!rewrite || !line.startsWith('{')) return line;
  try {
    const frame: unknown = JSON.parse(line);
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return line;
    return JSON.stringify(rewrite(frame as Record<string, unknown>));
  } catch {
    return line;
  }
}
