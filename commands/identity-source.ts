/**
 * `connect --identity`: where the personal passphrase comes from (a file descriptor, the
 * environment, or a hidden prompt that offers a generated word passphrase), the strength
 * rule it must pass, and the derivation of the long-term signing seed. Nothing is written.
 */
import { readFileSync } from 'node:fs';
import { createMemberKeys, memberFingerprint } from '../lib/crypto/identity.js';
import { deriveIdentitySeed } from '../lib/crypto/identity-key.js';
import { generateWordPassphrase, MIN_PASSPHRASE_BITS, passphraseBits } from '../lib/crypto/passphrase.js';
import { promptHidden } from './password.js';

/** The environment variable a script may give the identity passphrase in. */
export const IDENTITY_ENV = 'CMD_CHAT_IDENTITY_PASSPHRASE';

export interface IdentityOptions {
  enabled: boolean;
  /** The label mixed into the salt (default: the member's name). */
  label: string;
  /** `--identity-fd`: a file descriptor to read the passphrase's first line from. */
  fd: number | undefined;
  interactive: boolean;
  env?: NodeJS.ProcessEnv;
}

function readFd(fd: number): string {
  if (!Number.isInteger(fd) || fd < 0)
    throw new Error(`--identity-fd must be a file descriptor number, not ${fd}`);
  let text: string;
  try {
    text = readFileSync(fd, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read the identity passphrase from file descriptor ${fd} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return text.split(/\r?\n/, 1)[0] ?? '';
}

async function prompted(): Promise<string> {
  const offered = generateWordPassphrase();
  process.stderr.write(
    `A generated passphrase you may use (write it down: nothing is stored, and it is your identity):\n  ${offered}\n`,
  );
  const typed = await promptHidden('Identity passphrase (Enter alone: use the one above): ');
  return typed === '' ? offered : typed;
}

/** Why a passphrase is refused: the count the rule gave and what it needs. */
export function weakPassphraseMessage(bits: number): string {
  return (
    `the identity passphrase is too weak: it counts ${Math.floor(bits)} bits, ${MIN_PASSPHRASE_BITS} are needed ` +
    '(a word of the BIP39 list counts 11 bits once, any other character 1.5, repeats and runs nothing). ' +
    'Use a generated one: run connect --identity on a terminal and press Enter at the prompt.'
  );
}

/** The long-term signing seed, or undefined without --identity. Throws an Error for the user. */
export async function identityFromOptions(o: IdentityOptions): Promise<Buffer | undefined> {
  if (!o.enabled) {
    if (o.fd !== undefined) throw new Error('--identity-fd needs --identity');
    return undefined;
  }
  const env = o.env ?? process.env;
  let passphrase: string;
  if (o.fd !== undefined) passphrase = readFd(o.fd);
  else if (env[IDENTITY_ENV]) passphrase = env[IDENTITY_ENV];
  else if (o.interactive) passphrase = await prompted();
  else
    throw new Error(
      `--identity: no passphrase (give --identity-fd N or ${IDENTITY_ENV}; a terminal would ask)`,
    );
  const bits = passphraseBits(passphrase);
  if (bits < MIN_PASSPHRASE_BITS) throw new Error(weakPassphraseMessage(bits));
  const tty = process.stderr.isTTY === true;
  if (tty) process.stderr.write('deriving your identity key (scrypt, about a second)…\n');
  const seed = await deriveIdentitySeed(passphrase, o.label);
  if (tty) {
    const fingerprint = memberFingerprint(createMemberKeys(seed).signPublic);
    process.stderr.write(`your identity fingerprint: ${fingerprint} (others may pin it with --trust)\n`);
  }
  return seed;
}
