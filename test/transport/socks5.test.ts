/**
 * SOCKS5 transport: the contract through a real microsocks (names resolved by the proxy, and
 * resolved locally), authentication against microsocks, and the exact negotiation bytes and
 * every reply code against a scripted fake proxy.
 */
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseProxyUrl } from '../../lib/transport/index.js';
import { connectRequest, describeReply, socks5Client } from '../../lib/transport/socks5.js';
import { tcpServer } from '../../lib/transport/tcp.js';
import { type Connection, TransportError } from '../../lib/transport/transport.js';
import { type Microsocks, startMicrosocks } from '../helpers/microsocks.js';
import { freePort as closedPort } from '../helpers/processes.js';
import { suiteSkip } from '../helpers/system-tools.js';
import { Collector, transportContract } from './contract.js';

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runs the contract through microsocks with the given scheme and target host name. */
function throughMicrosocks(scheme: 'socks5' | 'socks5h'): void {
  let proxy: Microsocks | undefined;
  let deadProxyPort = 0;
  let closedTargetPort = 0;
  // The target is named "localhost"; listen where that name leads (what the proxy or we
  // resolve it to), so the test holds on machines where localhost is ::1 first.
  let localhostAddress = '127.0.0.1';
  const live = (): Microsocks => {
    assert.ok(proxy, 'microsocks is running');
    return proxy;
  };
  transportContract({
    name: `${scheme} through microsocks to "localhost"`,
    skip: suiteSkip('microsocks'),
    async before() {
      proxy = await startMicrosocks();
      deadProxyPort = await closedPort();
      localhostAddress = (await lookup('localhost')).address;
      closedTargetPort = await closedPort(localhostAddress);
    },
    async after() {
      await proxy?.stop();
    },
    pair: () => ({
      server: tcpServer({ host: localhostAddress, port: 0 }),
      clientFor: (listener) =>
        socks5Client({ proxy: live().url(scheme), host: 'localhost', port: listener.port! }),
    }),
    refusals: () => [
      {
        what: 'a proxy that is not running',
        client: () =>
          socks5Client({ proxy: `${scheme}://127.0.0.1:${deadProxyPort}`, host: 'localhost', port: 3000 }),
        code: 'proxy_failed',
        message: new RegExp(
          `^the SOCKS5 proxy at 127\\.0\\.0\\.1:${deadProxyPort} is not reachable: connection refused$`,
        ),
      },
      {
        what: 'a live proxy, a closed target port',
        client: () => socks5Client({ proxy: live().url(scheme), host: 'localhost', port: closedTargetPort }),
        code: 'proxy_refused',
        message: new RegExp(
          `^the SOCKS5 proxy refused the connection to localhost:${closedTargetPort}: connection refused \\(reply 5\\)$`,
        ),
      },
    ],
    closedCode: 'proxy_refused',
    noHalfClose:
      'microsocks closes both directions as soon as one side ends; do not count on half-close through any proxy',
  });
}

throughMicrosocks('socks5h');
throughMicrosocks('socks5');

describe('socks5 authentication against microsocks', {
  timeout: 20_000,
  skip: suiteSkip('microsocks') ?? false,
}, () => {
  const user = 'chat user';
  const password = 'p@ss:w/rd%é';
  let proxy: Microsocks;
  let echoPort = 0;
  let closeEcho: () => Promise<void> = async () => {};

  before(async () => {
    proxy = await startMicrosocks({ user, password });
    const listener = await tcpServer({ host: '127.0.0.1', port: 0 }).listen((conn) => {
      conn.stream.on('error', () => {});
      conn.stream.pipe(conn.stream);
    });
    echoPort = listener.port!;
    closeEcho = () => listener.close();
  });
  after(async () => {
    await proxy?.stop();
    await closeEcho();
  });

  async function echo(conn: Connection, text: string): Promise<string> {
    const got = new Collector(conn.stream);
    conn.stream.write(text);
    const echoed = (await got.take(text.length)).toString();
    conn.stream.destroy();
    return echoed;
  }

  it('connects with the right user name and password (percent-encoded in the URL)', async () => {
    const client = socks5Client({
      proxy: proxy.url('socks5h', { user, password }),
      host: '127.0.0.1',
      port: echoPort,
    });
    assert.ok(!client.description.includes(password), 'the description carries no password');
    assert.ok(!client.description.includes('chat'), 'the description carries no user name');
    assert.equal(await echo(await client.connect(), 'authenticated'), 'authenticated');
  });

  it('reports wrong credentials as proxy_refused, without repeating them', async () => {
    const wrong = 'not-the-password';
    const client = socks5Client({
      proxy: proxy.url('socks5h', { user, password: wrong }),
      host: '127.0.0.1',
      port: echoPort,
    });
    await assert.rejects(client.connect(), (err: unknown) => {
      assert.ok(err instanceof TransportError);
      assert.equal(err.code, 'proxy_refused');
      assert.match(err.message, /^proxy authentication failed: /);
      assert.ok(!err.message.includes(wrong) && !err.message.includes(password));
      return true;
    });
  });

  it('says so when the proxy wants credentials and none were given', async () => {
    const client = socks5Client({ proxy: proxy.url('socks5h'), host: '127.0.0.1', port: echoPort });
    await assert.rejects(client.connect(), {
      code: 'proxy_refused',
      message: /requires authentication; put user:password in the proxy URL$/,
    });
  });
});

/** What the scripted proxy saw of one client, and a way to answer it. */
type Script = (socket: net.Socket, read: (n: number) => Promise<Buffer>) => Promise<void>;

/** A one-shot fake proxy on loopback that runs `script` on its first connection. */
async function fakeProxy(script: Script): Promise<{ url: (scheme?: string) => string; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let wake: () => void = () => {};
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      wake();
    });
    socket.on('end', () => wake());
    const read = (n: number): Promise<Buffer> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (buffered.length >= n) {
            const out = buffered.subarray(0, n);
            buffered = buffered.subarray(n);
            resolve(out);
          } else if (socket.readableEnded) {
            reject(new Error(`client hung up; wanted ${n} bytes, had ${buffered.length}`));
          } else {
            wake = check;
          }
        };
        check();
      });
    script(socket, read).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: (scheme = 'socks5h') => `${scheme}://127.0.0.1:${port}`,
    close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

const OK_REPLY = Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]);

describe('socks5 negotiation bytes (scripted proxy)', { timeout: 20_000 }, () => {
  it('offers only "no auth", sends a domain name for socks5h, and keeps bytes after the reply', async () => {
    const seen: Buffer[] = [];
    const proxy = await fakeProxy(async (socket, read) => {
      seen.push(await read(3));
      socket.write(Buffer.from([5, 0]));
      seen.push(await read(4 + 1 + 'daemon.example.onion'.length + 2));
      // The reply and the daemon's first bytes in one write: nothing may be lost.
      socket.write(Buffer.concat([OK_REPLY, Buffer.from('hello from the daemon')]));
      socket.end();
    });
    try {
      const conn = await socks5Client({
        proxy: proxy.url(),
        host: 'daemon.example.onion',
        port: 8080,
      }).connect();
      const got = new Collector(conn.stream);
      assert.equal((await got.end()).toString(), 'hello from the daemon');
      conn.stream.destroy();
      assert.deepEqual(seen[0], Buffer.from([5, 1, 0]));
      assert.deepEqual(
        seen[1],
        Buffer.concat([
          Buffer.from([5, 1, 0, 3, 20]),
          Buffer.from('daemon.example.onion'),
          Buffer.from([0x1f, 0x90]),
        ]),
      );
    } finally {
      proxy.close();
    }
  });

  it('skips a domain-name or IPv6 bound address in the reply', async () => {
    for (const bound of [
      Buffer.from([3, 4, ...Buffer.from('host'), 0, 80]),
      Buffer.from([4, ...new Array<number>(16).fill(0), 0, 80]),
    ]) {
      const proxy = await fakeProxy(async (socket, read) => {
        await read(3);
        socket.write(Buffer.from([5, 0]));
        await read(10);
        socket.write(Buffer.concat([Buffer.from([5, 0, 0]), bound, Buffer.from('payload')]));
        socket.end();
      });
      try {
        const conn = await socks5Client({ proxy: proxy.url(), host: '10.0.0.1', port: 1 }).connect();
        assert.equal((await new Collector(conn.stream).end()).toString(), 'payload');
      } finally {
        proxy.close();
      }
    }
  });

  it('sends user name and password (RFC 1929) when the URL has them, decoded', async () => {
    const seen: Buffer[] = [];
    const proxy = await fakeProxy(async (socket, read) => {
      seen.push(await read(3));
      socket.write(Buffer.from([5, 2]));
      const head = await read(2);
      const user = await read(head[1]!);
      const plen = await read(1);
      const pass = await read(plen[0]!);
      seen.push(Buffer.concat([head, user, plen, pass]));
      socket.write(Buffer.from([1, 0]));
      await read(10);
      socket.end(OK_REPLY);
    });
    try {
      const url = proxy.url().replace('://', '://al%20ice:s%3Acr%40t@');
      const conn = await socks5Client({ proxy: url, host: '127.0.0.1', port: 1 }).connect();
      conn.stream.destroy();
      assert.deepEqual(seen[0], Buffer.from([5, 1, 2]));
      assert.deepEqual(seen[1], Buffer.from([1, 6, ...Buffer.from('al ice'), 6, ...Buffer.from('s:cr@t')]));
    } finally {
      proxy.close();
    }
  });

  it('resolves the name locally for socks5:// and sends an address', async () => {
    let request = Buffer.alloc(0);
    const proxy = await fakeProxy(async (socket, read) => {
      await read(3);
      socket.write(Buffer.from([5, 0]));
      const head = await read(4);
      request = Buffer.concat([head, await read(head[3] === 1 ? 6 : 18)]);
      socket.end(OK_REPLY);
    });
    try {
      const conn = await socks5Client({ proxy: proxy.url('socks5'), host: 'localhost', port: 443 }).connect();
      conn.stream.destroy();
      const expected = connectRequest((await lookup('localhost')).address, 443);
      assert.deepEqual(request, expected);
      assert.notEqual(request[3], 3, 'no domain name was sent');
    } finally {
      proxy.close();
    }
  });

  for (const [code, phrase] of [
    [1, 'general SOCKS server failure'],
    [2, 'connection not allowed by ruleset'],
    [3, 'network unreachable'],
    [4, 'host unreachable'],
    [5, 'connection refused'],
    [6, 'TTL expired'],
    [7, 'command not supported'],
    [8, 'address type not supported'],
    [0xf0, 'onion service descriptor not found'],
    [0x42, 'unknown error'],
  ] as const) {
    it(`maps reply ${code} to "${phrase}"`, async () => {
      const proxy = await fakeProxy(async (socket, read) => {
        await read(3);
        socket.write(Buffer.from([5, 0]));
        await read(10);
        socket.end(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
      });
      try {
        await assert.rejects(socks5Client({ proxy: proxy.url(), host: '192.0.2.1', port: 3000 }).connect(), {
          code: 'proxy_refused',
          message: new RegExp(
            `^the SOCKS5 proxy refused the connection to 192\\.0\\.2\\.1:3000: ${escapeRegex(phrase)}.*\\(reply ${
              code <= 9 ? code : `0x${code.toString(16)}`
            }\\)$`,
          ),
        });
      } finally {
        proxy.close();
      }
    });
  }

  it('reports a refusal even when the proxy cuts its reply short', async () => {
    const proxy = await fakeProxy(async (socket, read) => {
      await read(3);
      socket.write(Buffer.from([5, 0]));
      await read(10);
      socket.end(Buffer.from([5, 4]));
    });
    try {
      await assert.rejects(socks5Client({ proxy: proxy.url(), host: '192.0.2.1', port: 1 }).connect(), {
        code: 'proxy_refused',
        message: /host unreachable \(reply 4\)$/,
      });
    } finally {
      proxy.close();
    }
  });

  const failures: Array<[string, Script, RegExp]> = [
    [
      'something that is not SOCKS5',
      async (socket) => {
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      },
      /did not answer as a SOCKS5 proxy$/,
    ],
    [
      'a hang-up during the negotiation',
      async (socket, read) => {
        await read(3);
        socket.end(Buffer.from([5]));
      },
      /closed the connection during the negotiation$/,
    ],
    [
      'an unknown address type in the reply',
      async (socket, read) => {
        await read(3);
        socket.write(Buffer.from([5, 0]));
        await read(10);
        socket.end(Buffer.from([5, 0, 0, 9, 0, 0, 0, 0, 0, 0]));
      },
      /did not answer as a SOCKS5 proxy$/,
    ],
    [
      'a method we did not offer',
      async (socket, read) => {
        await read(3);
        socket.end(Buffer.from([5, 2]));
      },
      /chose an authentication method we did not offer$/,
    ],
  ];
  for (const [what, script, message] of failures) {
    it(`fails with proxy_failed on ${what}`, async () => {
      const proxy = await fakeProxy(script);
      try {
        await assert.rejects(socks5Client({ proxy: proxy.url(), host: '192.0.2.1', port: 1 }).connect(), {
          code: 'proxy_failed',
          message,
        });
      } finally {
        proxy.close();
      }
    });
  }

  it('gives up on a proxy that never answers, after the configured time', async () => {
    const proxy = await fakeProxy(async () => {});
    try {
      await assert.rejects(
        socks5Client({ proxy: proxy.url(), host: '192.0.2.1', port: 1, connectTimeoutMs: 200 }).connect(),
        { code: 'proxy_failed', message: /did not complete the negotiation within 0\.2 s$/ },
      );
    } finally {
      proxy.close();
    }
  });

  it('reports an unacceptable-methods answer as refused', async () => {
    const proxy = await fakeProxy(async (socket, read) => {
      await read(3);
      socket.end(Buffer.from([5, 0xff]));
    });
    try {
      await assert.rejects(
        socks5Client({ proxy: proxy.url().replace('://', '://u:p@'), host: '192.0.2.1', port: 1 }).connect(),
        { code: 'proxy_refused', message: /does not accept user name\/password authentication$/ },
      );
    } finally {
      proxy.close();
    }
  });
});

describe('CONNECT request encoding', () => {
  it('encodes IPv4, IPv6 (with :: and an IPv4 tail) and names', () => {
    assert.deepEqual(connectRequest('192.0.2.1', 80), Buffer.from([5, 1, 0, 1, 192, 0, 2, 1, 0, 80]));
    assert.deepEqual(
      connectRequest('2001:db8::1', 443),
      Buffer.from([5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1, 1, 0xbb]),
    );
    assert.deepEqual(
      connectRequest('::ffff:192.0.2.1', 1),
      Buffer.from([5, 1, 0, 4, ...new Array<number>(10).fill(0), 0xff, 0xff, 192, 0, 2, 1, 0, 1]),
    );
    assert.deepEqual(
      connectRequest('::', 1),
      Buffer.from([5, 1, 0, 4, ...new Array<number>(16).fill(0), 0, 1]),
    );
    assert.deepEqual(connectRequest('a.b', 1), Buffer.from([5, 1, 0, 3, 3, 97, 46, 98, 0, 1]));
    assert.throws(() => connectRequest('x'.repeat(256), 1), { code: 'bad_options' });
  });

  it('describes reply codes with the code for searching', () => {
    assert.equal(describeReply(5), 'connection refused (reply 5)');
    assert.equal(describeReply(0xf6), 'invalid onion address (reply 0xf6)');
  });
});

describe('parseProxyUrl', () => {
  it('accepts socks5 and socks5h, with 1080 as the default port', () => {
    assert.equal(parseProxyUrl('socks5h://127.0.0.1:9050').port, '9050');
    assert.equal(parseProxyUrl('socks5://proxy.example').port, '1080');
    assert.equal(parseProxyUrl('socks5h://[::1]:9050').hostname, '[::1]');
    assert.equal(parseProxyUrl('socks5h://u:p@127.0.0.1:9050/').username, 'u');
  });

  for (const [input, message] of [
    ['127.0.0.1:9050', /expected socks5h:\/\/HOST:PORT|unsupported scheme/],
    ['http://127.0.0.1:8080', /unsupported scheme/],
    ['socks4://127.0.0.1:1080', /unsupported scheme/],
    ['socks5h://', /host is missing|expected/],
    ['socks5h://127.0.0.1:9050/path', /only a scheme/],
    ['socks5h://127.0.0.1:9050?x=1', /only a scheme/],
    ['socks5h://:secret@127.0.0.1:9050', /password is given without a user name/],
    ['socks5h://u:%zz@127.0.0.1:9050', /invalid percent-escape/],
    ['socks5h://127.0.0.1:0', /port/],
    ['not a url', /expected socks5h/],
  ] as const) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseProxyUrl(input),
        (err: unknown) => {
          assert.ok(err instanceof TransportError);
          assert.equal(err.code, 'bad_options');
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  it('never repeats the URL (or its password) in an error', () => {
    for (const input of ['http://alice:hunter2@proxy:8080', 'socks5h://alice:hunter2@proxy:1/x', 'hunter2']) {
      assert.throws(
        () => parseProxyUrl(input),
        (err: unknown) => err instanceof Error && !err.message.includes('hunter2'),
      );
    }
  });

  it('rejects credentials longer than RFC 1929 allows', () => {
    assert.throws(() => parseProxyUrl(`socks5h://${'u'.repeat(256)}:p@h:1`), { code: 'bad_options' });
  });
});
