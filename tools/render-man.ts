/**
 * Build step: the man page `cmd-chat(1)` (dist/man/cmd-chat.1), made from the same yargs help
 * texts as `--help` (rendered at 80 columns) and the exit codes of lib/exit-codes.ts, so the
 * three never disagree. `npm install -g` installs it through package.json's `man` field.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { EXIT_CODE_SUMMARY } from '../lib/exit-codes.js';

/**
 * Text as roff reads it literally: backslashes escaped, hyphens as minus signs (options),
 * characters beyond ASCII as `\[uXXXX]` (groff reads its input as Latin-1 unless told), no
 * line taken for a request.
 */
function roff(text: string): string {
  return text
    .split('\n')
    .map((line) =>
      line
        .replace(/\\/g, '\\e')
        .replace(/-/g, '\\-')
        .replace(
          /[^\x00-\x7f]/gu,
          (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`,
        ),
    )
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

/** The man page: `help` maps '' (the top level) and each command name to its help text. */
export function manPage(version: string, help: ReadonlyMap<string, string>): string {
  const top = help.get('') ?? '';
  const sections = [...help].filter(([command]) => command !== '');
  const page = [
    `.TH CMD\\-CHAT 1 "" "cmd-chat ${version}" "User Commands"`,
    '.SH NAME',
    'cmd\\-chat \\- ephemeral, end\\-to\\-end encrypted terminal chat',
    '.SH SYNOPSIS',
    ...sections.map(([command]) => `.B cmd\\-chat ${roff(command)}\n[options]\n.br`),
    '.SH DESCRIPTION',
    'A RAM\\-only daemon relays ciphertext between the members of password\\-keyed rooms;',
    'clients chat in a readline REPL or through pipes. Nothing is written to disk.',
    'The text below is what',
    '.B cmd\\-chat \\-\\-help',
    'prints.',
    '.PP',
    '.nf',
    roff(top.trimEnd()),
    '.fi',
    '.SH COMMANDS',
    ...sections.flatMap(([command, text]) => [`.SS ${roff(command)}`, '.nf', roff(text.trimEnd()), '.fi']),
    '.SH EXIT STATUS',
    ...EXIT_CODE_SUMMARY.flatMap(([code, what]) => ['.TP', `.B ${code}`, roff(what)]),
    '.SH SEE ALSO',
    'The README and docs/ of the package (protocol, security, deployment, cluster), installed',
    'with it under the global node_modules/cmd\\-chat folder.',
    '',
  ];
  return page.join('\n');
}

/** Writes the man page to dist/man/cmd-chat.1. */
export function writeManPage(version: string, help: ReadonlyMap<string, string>): void {
  const dir = new URL('../man/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('cmd-chat.1', dir), manPage(version, help));
}
