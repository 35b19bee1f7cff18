/**
 * Answers `cmd-chat --help`, `cmd-chat <command> --help` and `--version` without loading
 * yargs (which alone costs more than the 150 ms start-up budget). The help texts are rendered
 * by yargs itself at build time (tools/render-help.ts), once per width, and stored compressed
 * in dist/help.json.br; this module picks the one for the terminal's width.
 */
import { readFileSync } from 'node:fs';
import { brotliDecompressSync } from 'node:zlib';
import { helpWidth } from './help-width.js';

/** The pre-rendered help: for each command ('' for the top level), one text per width. */
export interface PrerenderedHelp {
  minWidth: number;
  texts: Record<string, string[]>;
}

const HELP_FILE = new URL('../help.json.br', import.meta.url);
const PACKAGE_FILE = new URL('../../package.json', import.meta.url);
const isHelpFlag = (arg: string | undefined): boolean => arg === '--help' || arg === '-h';

/** Where the version and the compressed help come from: files here, assets in the single executable. */
export interface HelpSource {
  version(): string;
  compressedHelp(): Uint8Array;
}

const installedFiles: HelpSource = {
  version: () => (JSON.parse(readFileSync(PACKAGE_FILE, 'utf8')) as { version: string }).version,
  compressedHelp: () => readFileSync(HELP_FILE),
};

/** The text to print for these arguments, or undefined when yargs must run. */
export function fastAnswer(args: readonly string[], source: HelpSource = installedFiles): string | undefined {
  try {
    if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) return `${source.version()}\n`;
    const command =
      args.length === 1 && isHelpFlag(args[0])
        ? ''
        : args.length === 2 && isHelpFlag(args[1])
          ? args[0]
          : undefined;
    if (command === undefined) return undefined;
    const help = JSON.parse(
      brotliDecompressSync(source.compressedHelp()).toString('utf8'),
    ) as PrerenderedHelp;
    if (!Object.hasOwn(help.texts, command)) return undefined;
    return help.texts[command]?.[helpWidth() - help.minWidth];
  } catch {
    // No pre-rendered help (an old build, or a copy without it): yargs answers.
    return undefined;
  }
}
