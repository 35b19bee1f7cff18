/**
 * The SRP-6a intermediate values of lib/crypto/srp.ts in one object, so tests can check each
 * against the vectors and benchmarks can compute A without a full client.
 */
import {
  bigToMinimal,
  clientS,
  computeA,
  computeB,
  computeHAMK,
  computeK,
  computeM,
  computeU,
  computeVerifier,
  computeX,
  minimal,
  modPow,
  modPowBigInt,
  pad,
  SRP_G,
  SRP_K,
  SRP_N,
  serverS,
  toBig,
} from '../../lib/crypto/srp.js';

export const srpMath = {
  N: SRP_N,
  g: SRP_G,
  k: SRP_K,
  minimal,
  pad,
  toBig,
  bigToMinimal,
  modPow,
  modPowBigInt,
  computeX,
  computeVerifier,
  computeA,
  computeB,
  computeU,
  serverS,
  clientS,
  computeK,
  computeM,
  computeHAMK,
} as const;
