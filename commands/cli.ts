/**
 * The command line: yargs wiring for every subcommand. Each subcommand lives in its own
 * module in this folder; this file only assembles them, renders `--help` (the one source of
 * every help text: the fast path's pre-rendered copies, and whatever a man page or shell
 * completion is made from, come from `renderHelp`), and maps failures to exit codes.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Argv, MiddlewareFunction } from 'yargs';
import { EXIT_CODE_SUMMARY, ExitCode } from '../lib/exit-codes.js';
import { type Example, examplesBlock } from './examples.js';
import { helpWidth } from './help-width.js';
import { commandModules } from './registry.js';
import { closest } from './suggest.js';
import { UsageError } from './usage-error.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

/** Examples in the top-level help: one command per line, what it does indented below. */
const TOP_EXAMPLES: readonly Example[] = [
  ['cmd-chat serve', 'a daemon on 127.0.0.1:3000; it prints a password and how to connect'],
  ['cmd-chat connect 192.168.1.5 3000 alice', 'join its room "chat" (asks the password)'],
  ['cmd-chat serve --help', "the daemon's options; connect --help for the client's"],
];

/** The names of a subcommand, as typed first on the command line. */
const commandNames = commandModules.map((m) => String(m.command).split(' ')[0] ?? '');

/** "Run `cmd-chat serve --help`": the help of the command given, if any. */
function helpHint(argv: readonly string[]): string {
  const command = argv.find((a) => commandNames.includes(a));
  return `Run \`cmd-chat ${command ? `${command} ` : ''}--help\` for usage.`;
}

/** yargs' "Unknown argument(s): a, b" with the nearest known option for each typo. */
function withSuggestions(msg: string, y: OptionsView | undefined): string {
  const match = /^Unknown arguments?: (.+)$/.exec(msg);
  if (!match || y === undefined) return msg;
  const options = y.getOptions();
  // yargs keeps both spellings of a flag: suggest the dashed one, as --help shows it.
  const known = Object.keys(options.key).filter((k) => k.length > 1 && !/[A-Z]/.test(k));
  const words = match[1]!.split(', ');
  const hints: string[] = [];
  for (const word of words) {
    // yargs names `--max-client` twice, once as maxClient: one hint.
    if (/[A-Z]/.test(word) && words.includes(word.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))) continue;
    const near = closest(word.replace(/^-+/, ''), known);
    if (near !== undefined) hints.push(`--${near}`);
  }
  return hints.length > 0 ? `${msg} (did you mean ${hints.join(' and ')}?)` : msg;
}

/** What the suggestions read of the yargs instance that parsed (a command's own, with its options). */
interface OptionsView {
  getOptions(): { key: Record<string, unknown> };
}

/**
 * The whole command line, help wrapped to `width` columns (null: not wrapped). yargs is
 * imported here, not by this module: a plain connect or serve line never loads it.
 */
export async function buildCli(argv: string[], width: number | null): Promise<Argv> {
  const { default: yargs } = await import('yargs');
  // The instance validating the arguments, so a typo is compared with that command's options.
  let parsing: OptionsView | undefined;
  let cli = yargs(argv)
    .scriptName('cmd-chat')
    .usage(
      '$0 <command> [options]\n\nEphemeral, end-to-end encrypted terminal chat. Nothing is written to disk.',
    )
    .version(version)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .strict()
    .demandCommand(1, 'name a command: serve, connect, room-entry or completion')
    .recommendCommands()
    .wrap(width)
    .epilogue(
      `${examplesBlock(TOP_EXAMPLES)}\n\n` +
        `Exit codes: ${EXIT_CODE_SUMMARY.map(([code, what]) => `${code} ${what}`).join(', ')}.`,
    )
    // yargs hands middleware its instance too (@types/yargs leaves that argument out).
    .middleware(
      ((_argv: unknown, y: OptionsView) => {
        parsing = y;
      }) as unknown as MiddlewareFunction,
      true,
    )
    .fail((msg, err) => {
      if (err && !(err instanceof UsageError)) throw err;
      const text = withSuggestions(msg ?? err?.message ?? 'usage error', parsing);
      process.stderr.write(`cmd-chat: ${text}\n${helpHint(argv)}\n`);
      process.exit(ExitCode.usage);
    });
  // `completion` is one of these (commands/completion.ts); yargs answers the script's
  // `--get-yargs-completions` without a `.completion()` call.
  for (const mod of commandModules) cli = cli.command(mod);
  return cli;
}

const TYPE_TAG = /(\S)(\[(?:string|number|boolean|array|count|required)\].*)$/;

/**
 * yargs (its cliui) glues "[string]" to a description whose last line fills the column
 * exactly ("terminal)[string]"): such a tag goes to a line of its own, right-aligned, as
 * yargs does when it does not fit.
 */
export function separateTypeTags(text: string, width: number): string {
  return text
    .split('\n')
    .flatMap((line) => {
      const m = TYPE_TAG.exec(line);
      if (!m) return [line];
      const tag = m[2]!;
      return [line.slice(0, m.index + 1).trimEnd(), `${' '.repeat(Math.max(0, width - tag.length))}${tag}`];
    })
    .join('\n');
}

/**
 * The help text for `args` (which ask for help) at `width` columns, as `cmd-chat` prints it.
 * The fast path's pre-rendered texts (tools/render-help.ts) are made by this very function.
 */
export async function renderHelp(args: string[], width: number): Promise<string> {
  let text = '';
  await (await buildCli(args, width)).exitProcess(false).parseAsync(args, {}, (_err, _argv, output) => {
    text = output;
  });
  return `${separateTypeTags(text, width)}\n`;
}

const asksHelp = (argv: readonly string[]): boolean => {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

/** The part of yargs' internals that renders a command's help as the command starts. */
interface HelpCache {
  getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } };
}

/**
 * Stops yargs from rendering the chosen command's whole help as the command starts (kept in
 * case the command fails later; our failures print a hint, never that help). Rendering it
 * measures every line with Intl.Segmenter and stayed resident: about 8 MB of a daemon's RSS
 * (docs/benchmarks.md, backlog RSS). Returns whether the hook was there (a yargs upgrade
 * that removes it costs memory, not behaviour: test/e2e/help-cache.test.ts notices).
 */
export function skipHelpCache(cli: Argv): boolean {
  const usage = (cli as unknown as HelpCache).getInternalMethods?.().getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage !== 'function') return false;
  usage.cacheHelpMessage = () => {};
  return true;
}

/** Parses argv and runs the chosen subcommand. Resolves when the command's work is finished. */
export async function main(argv: string[]): Promise<void> {
  // The route bin/cmd-chat.js takes before it loads this module: a plain `serve` line runs
  // without yargs. Taken here too, so whoever runs this file gets the same parsing.
  if (argv[0] === 'serve') {
    const { serveWithoutYargs } = await import('./serve-fast.js');
    if (await serveWithoutYargs(argv.slice(1))) return;
  }
  // A plain connect line, likewise (what the bin and the tests start most).
  if (argv[0] === 'connect') {
    const { connectWithoutYargs } = await import('./connect-fast.js');
    if (await connectWithoutYargs(argv.slice(1))) return;
  }
  if (asksHelp(argv)) {
    process.stdout.write(await renderHelp(argv, helpWidth()));
    return;
  }
  // No help is printed past this point (--help went above; failures print one line), yet yargs
  // renders the command's help before running it: unwrapped, that costs a daemon's start
  // about 40 ms less CPU (serve's help is long), a client's about 15; skipped, it no longer
  // stays in the daemon's memory either.
  const cli = await buildCli(argv, null);
  skipHelpCache(cli);
  await cli.parseAsync();
}

// Run directly (tests spawn the compiled file next to them): behave like bin/cmd-chat.js.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2));
}
