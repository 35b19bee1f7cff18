/**
 * Holding a command's yargs-free parser (commands/fast-args.ts) to yargs: what yargs makes of
 * a line, where the two differ, each option in its plain forms, and seeded random lines that
 * mix positionals, options in every form and words either parser should refuse.
 */
import { isDeepStrictEqual } from 'node:util';
import yargs, { type CommandModule } from 'yargs';

export type Parsed = Record<string, unknown>;

/** What yargs makes of `NAME ARGS` (strict, as the CLI): its object without `_`/`$0`, or its error. */
export async function viaYargs<T>(
  name: string,
  command: CommandModule<object, T>,
  args: readonly string[],
): Promise<Parsed | { error: string }> {
  let parsed: Parsed | undefined;
  let error = '';
  await yargs([name, ...args])
    .strict()
    .exitProcess(false)
    .command({
      command: command.command!,
      builder: command.builder!,
      handler: (argv) => {
        parsed = argv as Parsed;
      },
    })
    .fail((msg, err) => {
      error = msg ?? err?.message ?? 'failed';
    })
    .parseAsync()
    .catch((err: Error) => {
      error = err.message;
    });
  if (parsed === undefined) return { error };
  const { _, $0, ...rest } = parsed;
  return rest;
}

/**
 * Where the fast parser and yargs differ on `args` ('' when they agree or the fast one
 * defers to yargs by answering undefined).
 */
export async function disagreement<T>(
  fastParse: (args: readonly string[]) => object | undefined,
  name: string,
  command: CommandModule<object, T>,
  args: readonly string[],
): Promise<string> {
  const fast = fastParse(args) as Parsed | undefined;
  if (fast === undefined) return '';
  const slow = await viaYargs(name, command, args);
  if ('error' in slow) return `${JSON.stringify(args)}: read plainly, but yargs refuses it (${slow.error})`;
  if (isDeepStrictEqual({ ...fast }, slow)) return '';
  const keys = new Set([...Object.keys(fast), ...Object.keys(slow)]);
  const diff = [...keys]
    .filter((k) => !isDeepStrictEqual(fast[k], slow[k]))
    .map((k) => `${k}: ${JSON.stringify(fast[k])} vs yargs ${JSON.stringify(slow[k])}`);
  return `${JSON.stringify(args)}: ${diff.join('; ')}`;
}

/** Each option in one plain form: `--name value` (a boolean: `--name`), or `--name=value` (`--no-name`). */
export function plainForm(name: string, type: string | undefined, inline: boolean): string[] {
  if (type === 'boolean') return [inline ? `--no-${name}` : `--${name}`];
  const value = type === 'number' ? '2' : 'x=1';
  return inline ? [`--${name}=${value}`] : [`--${name}`, value];
}

/** A seeded generator (mulberry32): the same lines on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LineMix {
  seed: number;
  lines: number;
  /** Words per line at most (fewer, down to none, at random). */
  maxWords: number;
  /** Option names to use (in every form: `--name v`, `--name=v`, `--name`, `--no-name`). */
  names: readonly string[];
  /** Values after options, and loose words. */
  values: readonly string[];
  /** Words either parser may refuse (typos, short flags, `--`). */
  noise: readonly string[];
  /** Shares of loose words and of noise among the words; options take the rest. */
  looseShare: number;
  noiseShare: number;
}

/** Seeded random command lines. */
export function randomLines(mix: LineMix): string[][] {
  const next = seeded(mix.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const lines: string[][] = [];
  for (let n = 0; n < mix.lines; n++) {
    const line: string[] = [];
    const count = Math.floor(next() * mix.maxWords);
    for (let k = 0; k < count; k++) {
      const r = next();
      if (r < mix.looseShare) line.push(pick(mix.values).replace(/^$/, '0'));
      else if (r < mix.looseShare + mix.noiseShare) line.push(pick(mix.noise));
      else {
        const name = pick(mix.names);
        const form = next();
        if (form < 0.45) line.push(`--${name}`, pick(mix.values));
        else if (form < 0.8) line.push(`--${name}=${pick(mix.values)}`);
        else if (form < 0.9) line.push(`--${name}`);
        else line.push(`--no-${name}`);
      }
    }
    lines.push(line);
  }
  return lines;
}

/** Every line through both parsers: where they differ, and how many lines the fast one read. */
export async function compareLines(
  lines: readonly string[][],
  fastParse: (args: readonly string[]) => object | undefined,
  differs: (args: readonly string[]) => Promise<string>,
): Promise<{ problems: string[]; plain: number }> {
  const problems: string[] = [];
  let plain = 0;
  for (const line of lines) {
    if (fastParse(line) !== undefined) plain++;
    const diff = await differs(line);
    if (diff) problems.push(diff);
  }
  return { problems, plain };
}
