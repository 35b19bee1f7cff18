/**
 * Build step: renders every `--help` text (commands/cli.ts `renderHelp`, yargs underneath),
 * once per terminal width, into dist/help.json.br for the fast path (commands/fast-help.ts),
 * and the man page from the 80-column texts (tools/render-man.ts). Not shipped code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { brotliCompressSync } from 'node:zlib';
import { renderHelp } from '../commands/cli.js';
import type { PrerenderedHelp } from '../commands/fast-help.js';
import { MAX_HELP_WIDTH, MIN_PRERENDERED_WIDTH } from '../commands/help-width.js';
import { commandModules } from '../commands/registry.js';
import { writeManPage } from './render-man.js';

const MAN_WIDTH = 80;

const commands = ['', ...commandModules.map((m) => String(m.command).split(' ')[0] ?? '')];
const help: PrerenderedHelp = { minWidth: MIN_PRERENDERED_WIDTH, texts: {} };
const manTexts = new Map<string, string>();
for (const command of commands) {
  const args = command === '' ? ['--help'] : [command, '--help'];
  const texts: string[] = [];
  for (let width = MIN_PRERENDERED_WIDTH; width <= MAX_HELP_WIDTH; width++)
    texts.push(await renderHelp(args, width));
  help.texts[command] = texts;
  manTexts.set(command, texts[MAN_WIDTH - MIN_PRERENDERED_WIDTH] ?? '');
}
writeFileSync(new URL('../help.json.br', import.meta.url), brotliCompressSync(JSON.stringify(help)));
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
writeManPage(version, manTexts);
