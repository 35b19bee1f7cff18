/**
 * Where a password comes from on the command line: the flag, a file, the environment or a
 * hidden prompt on a terminal; and a generated passphrase when the daemon is given none.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const PASSWORD_ENV = 'CMD_CHAT_PASSWORD';

export interface PasswordSources {
  password?: string | undefined;
  passwordFile?: string | undefined;
}

/** Reads a password file: its first line, without the line ending. Never echoes content in errors. */
export function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`cannot read the password file ${JSON.stringify(path)} (${code})`);
  }
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  if (first === '') throw new Error(`the password file ${JSON.stringify(path)} is empty`);
  return first;
}

/** Reads a password file of one password per line (trailing empty lines ignored). */
export function readPasswordLines(path: string): string[] {
  const first = readPasswordFile(path);
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  lines[0] = first;
  if (lines.some((l) => l === ''))
    throw new Error(`the password file ${JSON.stringify(path)} has an empty line`);
  return lines;
}

/**
 * The password from the flag, the file or the environment, in that order; undefined if none
 * (the caller then prompts or generates). A bare `--password` (empty) means "prompt".
 */
export function passwordFromSources(
  sources: PasswordSources,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (sources.password !== undefined && sources.password !== '') return sources.password;
  if (sources.passwordFile !== undefined) return readPasswordFile(sources.passwordFile);
  const fromEnv = env[PASSWORD_ENV];
  if (fromEnv !== undefined && fromEnv !== '' && sources.password === undefined) return fromEnv;
  return undefined;
}

/** Asks for a password on the terminal without echoing it. Rejects when stdin is not a TTY. */
export function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  if (!input.isTTY)
    return Promise.reject(new Error('no password given and stdin is not a terminal to ask for one'));
  return new Promise((resolve, reject) => {
    let value = '';
    output.write(question);
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const finish = (err?: Error): void => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          return;
        }
        if (ch === '\u0003') {
          finish(Object.assign(new Error('interrupted'), { code: 'interrupted' }));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch === '\u0015') value = '';
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}

// Crockford-style base32 without look-alikes: easy to read aloud and type.
const ALPHABET = 'abcdefghjkmnpqrstvwxyz23456789';

/** A random passphrase of 5 groups of 5 characters (about 122 bits). */
export function generatePassphrase(): string {
  const groups: string[] = [];
  for (let g = 0; g < 5; g++) {
    let group = '';
    for (let i = 0; i < 5; i++) group += ALPHABET[randomInt(ALPHABET.length)];
    groups.push(group);
  }
  return groups.join('-');
}
