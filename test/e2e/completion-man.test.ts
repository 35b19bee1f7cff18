/**
 * Shell completion (`cmd-chat completion`, yargs' scripts) driven by a real bash, and the man
 * page: made from the same help texts as `--help`, with every exit code, and well-formed roff.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT_CODE_SUMMARY } from '../../lib/exit-codes.js';
import { builtCli, cliPath, repoRoot } from '../helpers/paths.js';

const manPage = join(repoRoot, 'dist', 'man', 'cmd-chat.1');
/** Loads the completion script, completes the words given as arguments, prints the candidates. */
const BASH_COMPLETE = `source <(cmd-chat completion) && COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && _cmd-chat_yargs_completions && printf "%s\\n" "\${COMPREPLY[@]}"`;

test('bash: the completion script completes commands and options through the command itself', (t) => {
  if (process.platform === 'win32') return t.skip('bash completion is for POSIX shells');
  const dir = mkdtempSync(join(tmpdir(), 'cmd-chat-completion-'));
  try {
    symlinkSync(cliPath, join(dir, 'cmd-chat'));
    const complete = (...words: string[]): string => {
      const r = spawnSync('bash', ['-c', BASH_COMPLETE, 'bash', ...words], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, SHELL: '/bin/bash' },
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(complete('cmd-chat', 'con'), 'connect\n');
    assert.equal(complete('cmd-chat', 'serve', '--work'), '--workers\n');
    assert.equal(complete('cmd-chat', 'connect', '--prox'), '--proxy\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zsh: with $SHELL zsh the script is a compdef function for cmd-chat', () => {
  const r = spawnSync(process.execPath, [cliPath, 'completion'], {
    encoding: 'utf8',
    env: { ...process.env, SHELL: '/usr/bin/zsh' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^#compdef cmd-chat\n/);
  assert.match(r.stdout, /compdef _cmd-chat_yargs_completions cmd-chat/);
  assert.match(r.stdout, /cmd-chat --get-yargs-completions/);
});

test('completion --help explains the script instead of printing it; the script is unchanged', () => {
  const run = (...args: string[]): string => {
    const r = spawnSync(process.execPath, [builtCli, ...args], {
      encoding: 'utf8',
      env: { ...process.env, COLUMNS: '80', SHELL: '/bin/bash' },
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  for (const help of [run('completion', '--help'), run('completion', '-h')]) {
    assert.doesNotMatch(help, /yargs_completions/);
    assert.match(help, /^cmd-chat completion\n/);
    assert.match(help, /cmd-chat completion >> ~\/\.bashrc/);
  }
  const script = run('completion');
  assert.match(script, /^###-begin-cmd-chat-completions-###\n/);
  assert.match(script, /complete -o bashdefault -o default -F _cmd-chat_yargs_completions cmd-chat/);
});

test('the man page holds the 80-column --help of every command and every exit code', () => {
  const page = readFileSync(manPage, 'utf8');
  const literal = (text: string): string =>
    text
      .trimEnd()
      .replace(/\\/g, '\\e')
      .replace(/-/g, '\\-')
      .replace(
        /[^\x00-\x7f]/gu,
        (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`,
      )
      .replace(/^([.'])/gm, '\\&$1');
  for (const args of [
    ['--help'],
    ['serve', '--help'],
    ['connect', '--help'],
    ['room-entry', '--help'],
    ['completion', '--help'],
  ]) {
    const help = spawnSync(process.execPath, [builtCli, ...args], {
      encoding: 'utf8',
      env: { ...process.env, COLUMNS: '80' },
    });
    assert.equal(help.status, 0);
    assert.ok(page.includes(literal(help.stdout)), `${args.join(' ')} is in the man page as printed`);
  }
  const exitStatus = page.slice(page.indexOf('.SH EXIT STATUS'), page.indexOf('.SH SEE ALSO'));
  for (const [code, what] of EXIT_CODE_SUMMARY)
    assert.ok(exitStatus.includes(`.B ${code}\n${literal(what)}`));
});

test('the man page is well-formed roff (groff reports nothing)', (t) => {
  const groff = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', manPage], { encoding: 'utf8' });
  if (groff.error) return t.skip('groff is not installed');
  assert.equal(groff.status, 0);
  assert.equal(groff.stderr, '');
});
