/**
 * SRP-6a exactly as pysrp 1.0.22 does it in RFC 5054 mode (SHA-256, the RFC 5054 2048-bit group,
 * g = 2), so that one module serves the original cmd-chat protocol (v1) and ours (v2).
 *
 * Byte layout (pysrp converts every integer with long_to_bytes, i.e. minimal big-endian):
 *   x = H(salt | H(I | ":" | p))          salt and the inner hash as minimal bytes
 *   k = H(PAD(N) | PAD(g));  v = g^x;  A = g^a;  B = (k*v + g^b) mod N
 *   u = H(PAD(A) | PAD(B))                PAD = left-pad to 256 bytes
 *   S = (A * v^u)^b = (B - k*v)^(a + u*x);  K = H(S)  (S minimal)
 *   M = H((H(N) xor H(PAD(g))) | H(I) | salt | A | B | K);  H_AMK = H(A | M | K)
 *
 * Modular exponentiation goes through OpenSSL's constant-time DH derivation, with the exponent as
 * the "private key" and the base as the "peer key": about 0.4 ms for a 256-bit exponent, against
 * tens of milliseconds for JS big integers. A daemon keeps one DiffieHellman object on N (its
 * set-up checks that N is a safe prime, about 300 ms of CPU, paid once at start by warmUp()); a
 * client, which needs three exponentiations in all, passes DER-encoded key objects to
 * diffieHellman() instead (about 1 ms each, no primality check of a constant). OpenSSL refuses
 * bases 0, 1 and N-1 (and an exponent of 0); those are handled algebraically, and anything else
 * it refuses falls back to a BigInt square-and-multiply. BigInts are otherwise used only for the
 * few multiplications and additions mod N; they cannot be zeroed, so every value that ends up in
 * one is short-lived (as is a key object: OpenSSL clears its exponent when it is collected).
 */
import {
  createDiffieHellman,
  createHash,
  createPrivateKey,
  createPublicKey,
  type DiffieHellman,
  diffieHellman,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { wipe } from './secret.js';

export type SrpErrorCode = 'bad_A' | 'bad_B' | 'bad_u' | 'bad_input';

/** A protocol-level SRP failure; messages never contain a secret. */
export class SrpError extends Error {
  readonly code: SrpErrorCode;
  constructor(code: SrpErrorCode, message: string) {
    super(message);
    this.name = 'SrpError';
    this.code = code;
  }
}

const N_HEX =
  'ac6bdb41324a9a9bf166de5e1389582faf72b6651987ee07fc3192943db56050a37329cbb4a099ed8193e0757767a13dd52312ab4b03310dcd7f48a9da04fd50e8083969edb767b0cf6095179a163ab3661a05fbd5faaae82918a9962f0b93b855f97993ec975eeaa80d740adbf4ff747359d041d5c33ea71d281e446b14773bca97b43a23fb801676bd207a436c6481f1d2b9078717461a5b9d32e688f87748544523b524b0d57d5ea77a2775d2ecfa032cfbdbf52fb3786160279004e57ae6af874e7303ce53299ccc041c7bc308d82a5698f3a8d0c38271ae35f8e9dbfbb694b5c803d89f7ae435de236d525f54759b65e372fcd68ef20fa7111f9e4aff73';

/** Byte length of N; PAD() widths and the size of every group element. */
export const N_BYTES = 256;
const N_BUF: Buffer = Buffer.from(N_HEX, 'hex');
/** The group's modulus N and generator g, k = H(N | PAD(g)), H(N) xor H(g): the constants of every SRP computation. */
export const SRP_N: Buffer = N_BUF;
const N_BIG: bigint = BigInt('0x' + N_HEX);
const N_MINUS_1: Buffer = bigToMinimal(N_BIG - 1n);
const G_BUF: Buffer = Buffer.from([2]);
export const SRP_G: Buffer = G_BUF;
const EXP_ONE = Buffer.from([1]);

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Strips leading zero bytes (pysrp's long_to_bytes of bytes_to_long); a view, not a copy. */
export function minimal(buf: Buffer): Buffer {
  let i = 0;
  while (i < buf.length && buf[i] === 0) i++;
  return i === 0 ? buf : buf.subarray(i);
}

/** Left-pads to `width` bytes (PAD in RFC 5054). */
export function pad(buf: Buffer, width: number = N_BYTES): Buffer {
  const m = minimal(buf);
  if (m.length > width) throw new SrpError('bad_input', 'value wider than the group');
  if (m.length === width) return m;
  const out = Buffer.alloc(width);
  m.copy(out, width - m.length);
  return out;
}

/** Big-endian Buffer -> bigint (empty buffer is 0). */
export function toBig(buf: Buffer): bigint {
  return buf.length === 0 ? 0n : BigInt('0x' + buf.toString('hex'));
}

/** bigint (>= 0) -> minimal big-endian Buffer (0 is the empty buffer, as in pysrp). */
export function bigToMinimal(n: bigint): Buffer {
  if (n === 0n) return Buffer.alloc(0);
  let hex = n.toString(16);
  if (hex.length & 1) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}

const K_BUF: Buffer = sha256(N_BUF, pad(G_BUF));
const K_BIG: bigint = toBig(K_BUF);
export const SRP_K: Buffer = K_BUF;
const HN_XOR_HG: Buffer = (() => {
  const hn = sha256(N_BUF);
  const hg = sha256(pad(G_BUF));
  for (let i = 0; i < hn.length; i++) hn[i] ^= hg[i];
  return hn;
})();

// The DiffieHellman constructor checks that N is a safe prime (about 300 ms of CPU): only a
// daemon, which exponentiates for every handshake, makes it (warmUp() at start).
let dhObject: DiffieHellman | null = null;

/** Creates the shared OpenSSL DH context: a daemon's exponentiations then skip the key objects. */
export function warmUp(): void {
  if (dhObject === null) dhObject = createDiffieHellman(N_BUF, G_BUF);
}

/** A DER element: tag, definite length, contents. */
function der(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

/** A DER INTEGER of a non-negative big-endian value (a zero byte first when the top bit is set). */
function derInteger(value: Buffer): Buffer {
  const m = minimal(value);
  const body = m.length === 0 || (m[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.alloc(1), m]) : m;
  const out = der(0x02, body);
  if (body !== m) wipe(body);
  return out;
}

// AlgorithmIdentifier { dhKeyAgreement (PKCS #3), DHParameter { N, g } }.
const DH_ALGORITHM = der(
  0x30,
  Buffer.concat([
    Buffer.from('06092a864886f70d010301', 'hex'),
    der(0x30, Buffer.concat([derInteger(N_BUF), derInteger(G_BUF)])),
  ]),
);

/** base^exp mod N through key objects (PKCS #8 and SPKI on N, g); may throw as OpenSSL refuses. */
function keyObjectModPow(base: Buffer, exp: Buffer): Buffer {
  // Every buffer that holds the exponent is wiped once OpenSSL has its own copy.
  const exponent = derInteger(exp);
  const octets = der(0x04, exponent);
  const fields = Buffer.concat([der(0x02, Buffer.alloc(1)), DH_ALGORITHM, octets]);
  const pkcs8 = der(0x30, fields);
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } finally {
    wipe(exponent, octets, fields, pkcs8);
  }
  const bits = Buffer.concat([Buffer.alloc(1), derInteger(base)]);
  const publicKey = createPublicKey({
    key: der(0x30, Buffer.concat([DH_ALGORITHM, der(0x03, bits)])),
    format: 'der',
    type: 'spki',
  });
  return diffieHellman({ privateKey, publicKey });
}

function isZero(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Reduces a big-endian value mod N, without BigInts when it is already below N. */
function reduce(buf: Buffer): Buffer {
  const m = minimal(buf);
  if (m.length < N_BYTES || (m.length === N_BYTES && m.compare(N_BUF) < 0)) return m;
  return bigToMinimal(toBig(m) % N_BIG);
}

/**
 * Any big-endian value reduced mod N (minimal big-endian); one BigInt division at most, never an
 * exponentiation. The daemon makes decoy verifiers with it from a keyed hash expansion.
 */
export function reduceModN(buf: Buffer): Buffer {
  return reduce(buf);
}

/** Reference square-and-multiply on BigInts; used only for bases OpenSSL refuses. */
export function modPowBigInt(base: Buffer, exp: Buffer): Buffer {
  let b = toBig(base) % N_BIG;
  let e = toBig(exp);
  let r = 1n;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % N_BIG;
    b = (b * b) % N_BIG;
    e >>= 1n;
  }
  return bigToMinimal(r);
}

/** base^exp mod N, minimal big-endian. OpenSSL does the work except in the degenerate cases. */
export function modPow(base: Buffer, exp: Buffer): Buffer {
  const b = reduce(base);
  if (isZero(exp)) return Buffer.from([1]);
  if (b.length === 0) return Buffer.alloc(0);
  if (b.length === 1 && b[0] === 1) return Buffer.from([1]);
  if (b.equals(N_MINUS_1)) {
    const odd = (exp[exp.length - 1] & 1) === 1;
    return odd ? Buffer.from(N_MINUS_1) : Buffer.from([1]);
  }
  const d = dhObject;
  let out: Buffer;
  try {
    if (d === null) out = keyObjectModPow(b, exp);
    else {
      d.setPrivateKey(exp);
      out = d.computeSecret(b);
    }
  } catch {
    return modPowBigInt(b, exp);
  } finally {
    // Replace the exponent held inside OpenSSL (it frees the old one with BN_clear_free).
    d?.setPrivateKey(EXP_ONE);
  }
  // OpenSSL may left-pad to 256 bytes; callers want pysrp's minimal form.
  const m = minimal(out);
  if (m.length === out.length) return out;
  const copy = Buffer.from(m);
  wipe(out);
  return copy;
}

function toBuf(v: Buffer | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/** x = H(salt | H(I | ":" | p)), 32 bytes (an integer; leading zeros do not matter to modPow). */
export function computeX(salt: Buffer, identity: Buffer | string, password: Buffer | string): Buffer {
  const inner = sha256(toBuf(identity), Buffer.from(':'), toBuf(password));
  const x = sha256(minimal(salt), minimal(inner));
  wipe(inner);
  return x;
}

/** v = g^x mod N, minimal bytes; strings are UTF-8. */
export function computeVerifier(identity: Buffer | string, password: Buffer | string, salt: Buffer): Buffer {
  const x = computeX(salt, identity, password);
  const v = modPow(G_BUF, x);
  wipe(x);
  return v;
}

/** A = g^a (or B's g^b term). */
export function computeA(a: Buffer): Buffer {
  return modPow(G_BUF, a);
}

/** B = (k*v + g^b) mod N. */
export function computeB(v: Buffer, b: Buffer): Buffer {
  const gb = modPow(G_BUF, b);
  const B = bigToMinimal((K_BIG * toBig(v) + toBig(gb)) % N_BIG);
  wipe(gb);
  return B;
}

/** u = H(PAD(A) | PAD(B)). */
export function computeU(A: Buffer, B: Buffer): Buffer {
  return sha256(pad(A), pad(B));
}

/** Server side: S = (A * v^u)^b mod N. */
export function serverS(A: Buffer, v: Buffer, u: Buffer, b: Buffer): Buffer {
  const vu = modPow(v, u);
  const base = bigToMinimal((toBig(reduce(A)) * toBig(vu)) % N_BIG);
  wipe(vu);
  const S = modPow(base, b);
  wipe(base);
  return S;
}

/** Client side: S = (B - k*v)^(a + u*x) mod N, with v = g^x. */
export function clientS(B: Buffer, x: Buffer, a: Buffer, u: Buffer): Buffer {
  const v = modPow(G_BUF, x);
  let diff = (toBig(B) - K_BIG * toBig(v)) % N_BIG;
  if (diff < 0n) diff += N_BIG;
  const base = bigToMinimal(diff);
  const exp = bigToMinimal(toBig(a) + toBig(u) * toBig(x));
  const S = modPow(base, exp);
  wipe(v, base, exp);
  return S;
}

/** K = H(S) with S minimal. */
export function computeK(S: Buffer): Buffer {
  return sha256(minimal(S));
}

/** M = H((H(N) xor H(PAD(g))) | H(I) | salt | A | B | K), salt/A/B minimal. */
export function computeM(identity: Buffer | string, salt: Buffer, A: Buffer, B: Buffer, K: Buffer): Buffer {
  return sha256(HN_XOR_HG, sha256(toBuf(identity)), minimal(salt), minimal(A), minimal(B), K);
}

/** H_AMK = H(A | M | K), A minimal. */
export function computeHAMK(A: Buffer, M: Buffer, K: Buffer): Buffer {
  return sha256(minimal(A), M, K);
}

/** True when the value is 0 mod N. */
function isZeroModN(buf: Buffer): boolean {
  return reduce(buf).length === 0;
}

function checkBuffer(v: unknown, what: string): Buffer {
  if (!Buffer.isBuffer(v)) throw new SrpError('bad_input', `${what} must be a Buffer`);
  return v;
}

const MAC_LEN = 32;

function safeEqual(a: Buffer, b: Buffer): boolean {
  // Lengths are public (always 32 for an honest peer), so an early length check leaks nothing.
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The daemon's side of one handshake. The constructor does all the work (B, u, S, K and the
 * expected proofs) so that verify() is a constant-time comparison. verify() is single-use: a
 * second call returns null, as a wrong proof is meant to end the connection.
 */
export class SrpServer {
  readonly B: Buffer;
  private b: Buffer;
  private K: Buffer;
  private expectedM: Buffer;
  private hamk: Buffer;
  private state: 'pending' | 'verified' | 'failed' | 'destroyed' = 'pending';

  constructor(opts: {
    identity: Buffer | string;
    salt: Buffer;
    verifier: Buffer;
    A: Buffer;
    secret?: Buffer;
  }) {
    const salt = checkBuffer(opts.salt, 'salt');
    const v = checkBuffer(opts.verifier, 'verifier');
    const A = minimal(checkBuffer(opts.A, 'A'));
    if (typeof opts.identity !== 'string') checkBuffer(opts.identity, 'identity');
    // pysrp cannot PAD an A wider than N either; a multiple of N would force S = 0.
    if (A.length > N_BYTES || isZeroModN(A)) throw new SrpError('bad_A', 'invalid client public value A');
    if (isZeroModN(v)) throw new SrpError('bad_input', 'invalid verifier');
    this.b = Buffer.from(opts.secret ?? randomBytes(32));
    if (isZero(this.b)) throw new SrpError('bad_input', 'secret exponent must not be zero');
    this.B = computeB(v, this.b);
    const u = computeU(A, this.B);
    if (isZero(u)) {
      wipe(this.b);
      throw new SrpError('bad_u', 'scrambling parameter u is zero');
    }
    const S = serverS(A, v, u, this.b);
    this.K = computeK(S);
    wipe(S);
    this.expectedM = computeM(opts.identity, salt, A, this.B, this.K);
    this.hamk = computeHAMK(A, this.expectedM, this.K);
  }

  /** Checks the client's proof in constant time; returns H_AMK to send back, or null. */
  verify(M: Buffer): Buffer | null {
    if (this.state !== 'pending') return null;
    const ok = Buffer.isBuffer(M) && M.length === MAC_LEN && timingSafeEqual(M, this.expectedM);
    this.state = ok ? 'verified' : 'failed';
    if (!ok) {
      wipe(this.K, this.hamk);
      return null;
    }
    return Buffer.from(this.hamk);
  }

  /** The session key K; only available after a successful verify(). */
  get sessionKey(): Buffer {
    if (this.state !== 'verified') throw new Error('SRP session key is not available before verification');
    return this.K;
  }

  /** Zeroes every secret this handshake holds. */
  destroy(): void {
    wipe(this.b, this.K, this.expectedM, this.hamk);
    this.state = 'destroyed';
  }
}

/**
 * The client's side: A at construction, the proof M from (salt, B), then the check of the
 * daemon's H_AMK. The password copy is zeroed as soon as the proof is computed.
 */
export class SrpClient {
  readonly A: Buffer;
  private readonly identity: Buffer;
  private password: Buffer;
  private a: Buffer;
  private K: Buffer | null = null;
  private M: Buffer | null = null;
  private hamk: Buffer | null = null;
  private verified = false;

  constructor(identity: Buffer | string, password: Buffer | string, secret?: Buffer) {
    if (typeof identity !== 'string') checkBuffer(identity, 'identity');
    if (typeof password !== 'string') checkBuffer(password, 'password');
    this.identity = Buffer.from(toBuf(identity));
    this.password = Buffer.from(toBuf(password));
    this.a = Buffer.from(secret ?? randomBytes(32));
    if (isZero(this.a)) throw new SrpError('bad_input', 'secret exponent must not be zero');
    this.A = computeA(this.a);
  }

  /** Returns the proof M; throws SrpError 'bad_B' if B ≡ 0 (mod N), 'bad_u' if u = 0. */
  processChallenge(salt: Buffer, B: Buffer): Buffer {
    checkBuffer(salt, 'salt');
    const Bm = minimal(checkBuffer(B, 'B'));
    if (this.M !== null) throw new SrpError('bad_input', 'challenge already processed');
    if (isZero(this.a)) throw new SrpError('bad_input', 'client destroyed');
    if (Bm.length > N_BYTES || isZeroModN(Bm)) throw new SrpError('bad_B', 'invalid server public value B');
    const u = computeU(this.A, Bm);
    if (isZero(u)) throw new SrpError('bad_u', 'scrambling parameter u is zero');
    const x = computeX(salt, this.identity, this.password);
    wipe(this.password);
    const S = clientS(Bm, x, this.a, u);
    wipe(x);
    this.K = computeK(S);
    wipe(S);
    this.M = computeM(this.identity, salt, this.A, Bm, this.K);
    this.hamk = computeHAMK(this.A, this.M, this.K);
    return Buffer.from(this.M);
  }

  /** Checks the daemon's H_AMK in constant time. */
  verifySession(HAMK: Buffer): boolean {
    if (this.hamk === null || !Buffer.isBuffer(HAMK)) return false;
    this.verified = safeEqual(HAMK, this.hamk);
    return this.verified;
  }

  /** True once verifySession() has accepted the daemon's proof. */
  get authenticated(): boolean {
    return this.verified;
  }

  /** K, available once processChallenge() has run (the daemon's proof is checked separately). */
  get sessionKey(): Buffer {
    if (this.K === null) throw new Error('SRP session key is not available before the challenge');
    return this.K;
  }

  /** Zeroes every secret this handshake holds. */
  destroy(): void {
    wipe(this.password, this.a, this.K, this.M, this.hamk);
  }
}
