/**
 * A loopback TCP port that nothing listens on, for "connection refused" cases: bound with
 * port 0, then released. Another process could grab it in between; on a test machine that is
 * rare enough, and the failure would show as a wrong error rather than a hang.
 */
import net from 'node:net';

export function closedPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
