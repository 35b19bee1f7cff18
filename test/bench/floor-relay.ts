/**
 * The floor of the backlog-memory row (backlog.ts): a bare relay in plain Node, no crypto and
 * no limits, run as its own process. Each newline-ended line a client sends is kept in a log
 * (as a room keeps its log) and written, as one Buffer shared by all, to every connected
 * client. Held by clients that do not read, the same backlog shows what any Node relay costs:
 * Node itself, 100 sockets, the bytes and the work of relaying them. Prints `port N`.
 */
import net from 'node:net';

const sockets = new Set<net.Socket>();
const log: string[] = [];
const server = net.createServer((socket) => {
  sockets.add(socket);
  let partial = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      log.push(line);
      const shared = Buffer.from(`${line}\n`, 'latin1');
      for (const to of sockets) to.write(shared);
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => sockets.delete(socket));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${(server.address() as net.AddressInfo).port}\n`);
});
