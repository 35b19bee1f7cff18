/**
 * SRP-6a against the pysrp 1.0.22 vectors (every intermediate value and the wire strings), our
 * client against our server, the SRP-6a safety checks, and the modexp fallback path.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { computeVerifier, SrpClient, SrpError, SrpServer, warmUp } from '../../lib/crypto/srp.js';
import { vectorsDir } from '../helpers/paths.js';
import { srpMath } from '../helpers/srp-math.js';

interface SrpCase {
  name: string;
  I: string;
  password: string;
  salt: string;
  a: string;
  b: string;
  x: string;
  v: string;
  k: string;
  A: string;
  B: string;
  u: string;
  S: string;
  K: string;
  M: string;
  H_AMK: string;
  wire: { A: string; B: string; salt: string; M: string; H_AMK: string };
}

const file = JSON.parse(readFileSync(join(vectorsDir, 'srp-rfc5054-sha256-2048.json'), 'utf8')) as {
  N: string;
  g: string;
  cases: SrpCase[];
};

/** Vector hex (Python's hex(), possibly odd length) -> minimal big-endian bytes. */
function num(hex: string): Buffer {
  return srpMath.minimal(Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex'));
}
/** Digest hex -> the 32 bytes (hashes keep their leading zeros). */
function bytes(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}
function asInt(buf: Buffer): string {
  return srpMath.minimal(buf).toString('hex');
}

const N = BigInt('0x' + file.N);

function big(buf: Buffer): bigint {
  return buf.length === 0 ? 0n : BigInt('0x' + buf.toString('hex'));
}
function fromBig(n: bigint): Buffer {
  return srpMath.bigToMinimal(n);
}
/** Independent reference: Python-style pow(base, exp, N). */
function refPow(base: bigint, exp: bigint): bigint {
  let r = 1n;
  let b = ((base % N) + N) % N;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % N;
    b = (b * b) % N;
    e >>= 1n;
  }
  return r;
}

describe('SRP group constants', () => {
  it('N, g and k match the vectors', () => {
    assert.equal(srpMath.N.toString('hex'), file.N);
    assert.equal(srpMath.g.toString('hex'), '02');
    for (const c of file.cases) assert.equal(asInt(srpMath.k), asInt(num(c.k)));
    assert.equal(srpMath.N.length, 256);
  });
});

for (const c of file.cases) {
  describe(`SRP vector: ${c.name}`, () => {
    const salt = bytes(c.salt);
    const a = num(c.a);
    const b = num(c.b);

    it('every intermediate value matches', () => {
      const x = srpMath.computeX(salt, c.I, c.password);
      assert.equal(asInt(x), asInt(num(c.x)), 'x');
      const v = computeVerifier(c.I, c.password, salt);
      assert.deepEqual(v, num(c.v), 'v (minimal bytes)');
      const A = srpMath.computeA(a);
      assert.deepEqual(A, num(c.A), 'A');
      const B = srpMath.computeB(v, b);
      assert.deepEqual(B, num(c.B), 'B');
      const u = srpMath.computeU(A, B);
      assert.equal(asInt(u), asInt(num(c.u)), 'u');
      const Ss = srpMath.serverS(A, v, u, b);
      const Sc = srpMath.clientS(B, x, a, u);
      assert.deepEqual(Ss, num(c.S), 'S (server)');
      assert.deepEqual(Sc, num(c.S), 'S (client)');
      const K = srpMath.computeK(Ss);
      assert.deepEqual(K, bytes(c.K), 'K');
      const M = srpMath.computeM(c.I, salt, A, B, K);
      assert.deepEqual(M, bytes(c.M), 'M');
      assert.deepEqual(srpMath.computeHAMK(A, M, K), bytes(c.H_AMK), 'H_AMK');
    });

    it('wire strings are base64 of the minimal encodings', () => {
      assert.equal(num(c.A).toString('base64'), c.wire.A);
      assert.equal(num(c.B).toString('base64'), c.wire.B);
      assert.equal(salt.toString('base64'), c.wire.salt);
      assert.equal(bytes(c.M).toString('base64'), c.wire.M);
      assert.equal(bytes(c.H_AMK).toString('base64'), c.wire.H_AMK);
    });

    it('our client against our server with the fixed a/b reproduces the transcript', () => {
      const client = new SrpClient(c.I, c.password, a);
      assert.equal(client.A.toString('base64'), c.wire.A);
      const server = new SrpServer({
        identity: c.I,
        salt,
        verifier: computeVerifier(c.I, c.password, salt),
        A: Buffer.from(c.wire.A, 'base64'),
        secret: b,
      });
      assert.equal(server.B.toString('base64'), c.wire.B);
      const M = client.processChallenge(salt, server.B);
      assert.equal(M.toString('base64'), c.wire.M);
      assert.throws(() => server.sessionKey);
      const hamk = server.verify(M);
      assert.ok(hamk);
      assert.equal(hamk.toString('base64'), c.wire.H_AMK);
      assert.equal(client.verifySession(hamk), true);
      assert.deepEqual(server.sessionKey, bytes(c.K));
      assert.deepEqual(client.sessionKey, bytes(c.K));
      server.destroy();
      client.destroy();
      assert.throws(() => server.sessionKey);
    });

    it('the server accepts the vector client values given as wire bytes (pysrp client)', () => {
      const server = new SrpServer({ identity: c.I, salt, verifier: num(c.v), A: num(c.A), secret: b });
      const hamk = server.verify(bytes(c.M));
      assert.deepEqual(hamk, bytes(c.H_AMK));
    });
  });
}

describe('SRP handshakes with random secrets', () => {
  it('right password authenticates both ways, keys agree', () => {
    for (let i = 0; i < 5; i++) {
      const salt = randomBytes(16);
      const v = computeVerifier('room', 'pw' + i, salt);
      const client = new SrpClient('room', 'pw' + i);
      const server = new SrpServer({ identity: 'room', salt, verifier: v, A: client.A });
      const hamk = server.verify(client.processChallenge(salt, server.B));
      assert.ok(hamk);
      assert.equal(client.verifySession(hamk), true);
      assert.deepEqual(client.sessionKey, server.sessionKey);
    }
  });

  it('wrong password: verify returns null, no session key, no second chance', () => {
    const salt = randomBytes(16);
    const client = new SrpClient('room', 'wrong');
    const server = new SrpServer({
      identity: 'room',
      salt,
      verifier: computeVerifier('room', 'right', salt),
      A: client.A,
    });
    const M = client.processChallenge(salt, server.B);
    assert.equal(server.verify(M), null);
    assert.throws(() => server.sessionKey);
    assert.equal(server.verify(M), null);
  });

  it('wrong identity fails; a proof of the wrong length fails', () => {
    const salt = randomBytes(16);
    const v = computeVerifier('room', 'pw', salt);
    const client = new SrpClient('other', 'pw');
    const server = new SrpServer({ identity: 'room', salt, verifier: v, A: client.A });
    assert.equal(server.verify(client.processChallenge(salt, server.B)), null);
    const s2 = new SrpServer({ identity: 'room', salt, verifier: v, A: client.A });
    assert.equal(s2.verify(Buffer.alloc(31)), null);
  });

  it('a forged H_AMK is refused by the client', () => {
    const salt = randomBytes(16);
    const v = computeVerifier('room', 'pw', salt);
    const client = new SrpClient('room', 'pw');
    const server = new SrpServer({ identity: 'room', salt, verifier: v, A: client.A });
    const hamk = server.verify(client.processChallenge(salt, server.B));
    assert.ok(hamk);
    const forged = Buffer.from(hamk);
    forged[0] ^= 1;
    assert.equal(client.verifySession(forged), false);
    assert.equal(client.verifySession(hamk.subarray(1)), false);
    assert.equal(client.verifySession(hamk), true);
  });
});

describe('SRP-6a safety checks', () => {
  const salt = Buffer.from('d8ea0250', 'hex');
  const v = computeVerifier('chat', 'pw', salt);
  const nBig = N;
  const badAs: Array<[string, Buffer]> = [
    ['A = 0', Buffer.from([0])],
    ['A = empty', Buffer.alloc(0)],
    ['A = N', fromBig(nBig)],
    ['A = 2N', fromBig(2n * nBig)],
    ['A = N with leading zeros', Buffer.concat([Buffer.alloc(3), fromBig(nBig)])],
  ];
  for (const [name, A] of badAs) {
    it(`server rejects ${name}`, () => {
      assert.throws(
        () => new SrpServer({ identity: 'chat', salt, verifier: v, A }),
        (e: unknown) => e instanceof SrpError && e.code === 'bad_A',
      );
    });
  }

  for (const [name, B] of [
    ['B = 0', Buffer.alloc(1)],
    ['B = N', fromBig(nBig)],
    ['B = 2N', fromBig(2n * nBig)],
  ] as Array<[string, Buffer]>) {
    it(`client rejects ${name}`, () => {
      const client = new SrpClient('chat', 'pw');
      assert.throws(
        () => client.processChallenge(salt, B),
        (e: unknown) => e instanceof SrpError && e.code === 'bad_B',
      );
    });
  }

  it('error messages name no secret', () => {
    try {
      new SrpClient('chat', 'hunter2-secret').processChallenge(salt, Buffer.alloc(1));
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof SrpError);
      assert.doesNotMatch(e.message, /hunter2/);
    }
  });

  it('A = 1 and A = N-1 are accepted (only 0 mod N is forbidden) and still fail verification', () => {
    for (const A of [Buffer.from([1]), fromBig(nBig - 1n)]) {
      const server = new SrpServer({ identity: 'chat', salt, verifier: v, A });
      assert.equal(server.B.length <= 256, true);
      assert.equal(server.verify(randomBytes(32)), null);
    }
  });

  it('rejects non-Buffer inputs with bad_input', () => {
    assert.throws(
      () => new SrpServer({ identity: 'chat', salt, verifier: v, A: 'AAAA' as unknown as Buffer }),
      (e: unknown) => e instanceof SrpError && e.code === 'bad_input',
    );
  });
});

// Both ways through OpenSSL: a client's key objects first, then (after warmUp(), which cannot be
// undone in this process) a daemon's shared DiffieHellman context.
for (const path of ['key objects (a client)', 'the shared context (a daemon, after warmUp)']) {
  describe(`modular exponentiation through ${path}`, () => {
    before(() => {
      if (path.includes('warmUp')) warmUp();
    });
    const cases: Array<[string, bigint, bigint]> = [
      ['base 0', 0n, 12345n],
      ['base 1', 1n, 98765n],
      ['base N-1, odd exponent', N - 1n, 3n],
      ['base N-1, even exponent', N - 1n, 4n],
      ['base N (≡ 0)', N, 7n],
      ['base N+1 (≡ 1)', N + 1n, 7n],
      ['base 2N-1 (≡ -1)', 2n * N - 1n, 5n],
      ['exponent 0', 5n, 0n],
      ['exponent 1', 5n, 1n],
      ['base 0, exponent 0', 0n, 0n],
      ['base 2', 2n, 0x10001n],
      ['base N-2', N - 2n, 65537n],
      ['base above N, ordinary', N + 12345n, 99991n],
    ];
    for (const [name, base, exp] of cases) {
      it(`${name} matches the BigInt reference`, () => {
        const expected = fromBig(refPow(base, exp));
        assert.deepEqual(srpMath.modPow(fromBig(base), fromBig(exp)), expected);
        assert.deepEqual(srpMath.modPowBigInt(fromBig(base), fromBig(exp)), expected);
      });
    }

    it('random bases and exponents (top bits set or not): OpenSSL, fallback and reference agree', () => {
      for (let i = 0; i < 8; i++) {
        const base = randomBytes(256);
        const exp = randomBytes(i === 0 ? 300 : 32);
        // Alternate the top bits: DER integers need a leading zero byte when it is set.
        base[0] = i & 1 ? base[0]! | 0x80 : base[0]! & 0x7f;
        exp[0] = i & 2 ? exp[0]! | 0x80 : exp[0]! & 0x7f;
        const expected = fromBig(refPow(big(base), big(exp)));
        assert.deepEqual(srpMath.modPow(base, exp), expected);
        if (i > 0) assert.deepEqual(srpMath.modPowBigInt(base, exp), expected);
      }
    });

    it('results are minimal (no left padding from OpenSSL)', () => {
      // 2^8 = 256 would come back from OpenSSL as 256 bytes of mostly zeros.
      assert.deepEqual(srpMath.modPow(Buffer.from([2]), Buffer.from([8])), Buffer.from([1, 0]));
    });
  });
}
