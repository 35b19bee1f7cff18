/**
 * Build step: renders every `--help` text (commands/cli.ts `renderHelp`, yargs underneath),
 * once per terminal width, into dist/help.json.br for the fast path (commands/fast-help.ts).
 * Not shipped code.
 */
import { writeFileSync } from 'node:fs';
import { brotliCompressSync } from 'node:zlib';
import { renderHelp } from '../commands/cli.js';
import type { PrerenderedHelp } from '../commands/fast-help.js';
import { MAX_HELP_WIDTH, MIN_PRERENDERED_WIDTH } from '../commands/help-width.js';
import { commandModules } from '../commands/registry.js';

const commands = ['', ...commandModules.map((m) => String(m.command).split(' ')[0] ?? '')];
const help: PrerenderedHelp = { minWidth: MIN_PRERENDERED_WIDTH, texts: {} };
for (const command of commands) {
  const args = command === '' ? ['--help'] : [command, '--help'];
  const texts: string[] = [];
  for (let width = MIN_PRERENDERED_WIDTH; width <= MAX_HELP_WIDTH; width++)
    texts.push(await renderHelp(args, width));
  help.texts[command] = texts;
}
writeFileSync(new URL('../help.json.br', import.meta.url), brotliCompressSync(JSON.stringify(help)));
