/**
 * A command line parsed without yargs, for a daemon's or a client's start: the plain forms of
 * a command's options (`--name value`, `--name=value`, `--flag`, `--no-flag`, positionals)
 * give the very object yargs gives, from the same option declarations; anything else (a typo,
 * a short flag, `--`, a value that looks like a flag, an array followed by loose words, a
 * number yargs might read differently) gives undefined, and the caller hands the whole line
 * to yargs, which parses it or explains what is wrong exactly as before. yargs and its help
 * cost a daemon about 13 MB of memory for good (docs/benchmarks.md, backlog RSS), and a
 * client a third of its start-up CPU; test/e2e/serve-fast.test.ts and connect-fast.test.ts
 * hold the parsers to the same results.
 */
import type { Options, PositionalOptions } from 'yargs';

/** An option's declaration, as yargs reads it (the fields this parser understands). */
type Declaration = Pick<Options, 'type' | 'array' | 'default' | 'alias'>;

/** A plain decimal number: what both parsers read the same way (no sign, exponent or hex). */
const PLAIN_NUMBER = /^\d+(?:\.\d+)?$/;

/** yargs' second spelling of a dashed name: `max-clients` → `maxClients`. */
const camel = (name: string): string => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A value as its declaration's type, or undefined when yargs might read it otherwise. */
function typed(d: Declaration, text: string): string | number | undefined {
  if (d.type === 'string') return text;
  if (d.type === 'number') return PLAIN_NUMBER.test(text) ? Number(text) : undefined;
  return undefined;
}

/**
 * The parsed arguments (both spellings of every name, defaults filled in, no `_`), or
 * undefined when the line is not one of the plain forms: then yargs must parse it.
 */
export function parsePlain(
  args: readonly string[],
  positionals: Readonly<Record<string, PositionalOptions>>,
  options: Readonly<Record<string, Declaration>>,
): Record<string, unknown> | undefined {
  // A positional may be given as an option too (`--port 0`), as yargs allows.
  const declared: Record<string, Declaration> = { ...positionals, ...options };
  const byName = new Map<string, string>();
  for (const [key, d] of Object.entries(declared)) {
    byName.set(key, key);
    for (const alias of d.alias === undefined ? [] : [d.alias].flat()) byName.set(alias, key);
  }
  const given = new Map<string, unknown>();
  const positionalNames = Object.keys(positionals);
  let nextPositional = 0;
  const isWord = (arg: string | undefined): arg is string => arg !== undefined && !arg.startsWith('-');

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-')) {
      const name = positionalNames[nextPositional];
      if (name === undefined) return undefined;
      const value = typed(positionals[name]!, arg);
      if (value === undefined) return undefined;
      if (positionals[name]!.array) {
        // A variadic positional (connect's `[args..]`) takes every word that is no option's value.
        given.set(name, [...((given.get(name) as unknown[] | undefined) ?? []), value]);
        continue;
      }
      if (given.has(name)) return undefined;
      nextPositional++;
      given.set(name, value);
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') return undefined;
    const eq = arg.indexOf('=');
    const spelled = arg.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    let key = byName.get(spelled);
    let flag = true;
    if (key === undefined && spelled.startsWith('no-')) {
      key = byName.get(spelled.slice(3));
      flag = false;
      if (key === undefined || declared[key]!.type !== 'boolean') return undefined;
    }
    if (key === undefined) return undefined;
    // `--args x` beside connect's words: yargs merges the two its own way.
    if (positionals[key]?.array) return undefined;
    const d = declared[key]!;
    if (d.type === 'boolean') {
      // `--flag=false` and `--flag false` are yargs' to read.
      if (inline !== undefined || args[i + 1] === 'true' || args[i + 1] === 'false') return undefined;
      if (given.has(key)) return undefined;
      given.set(key, flag);
      continue;
    }
    if (!flag) return undefined;
    let text = inline;
    if (text === undefined && isWord(args[i + 1])) text = args[++i];
    // A bare string option (`--password` alone: ask on the terminal) is the empty string;
    // one with a default (`--host`) yargs reads otherwise.
    const bare = i + 1 >= args.length || args[i + 1]!.startsWith('--');
    if (text === undefined && bare && d.type === 'string' && !d.array && d.default === undefined) text = '';
    if (text === undefined) return undefined;
    const value = typed(d, text);
    if (value === undefined) return undefined;
    if (d.array) {
      // yargs takes the words after an array's value into the array, and drops an empty one.
      if (text === '') return undefined;
      if (isWord(args[i + 1])) return undefined;
      const list = (given.get(key) as unknown[] | undefined) ?? [];
      given.set(key, [...list, value]);
    } else {
      if (given.has(key)) return undefined;
      given.set(key, value);
    }
  }

  const parsed: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(declared)) {
    const value = given.has(key) ? given.get(key) : d.default;
    if (value === undefined) continue;
    for (const name of [key, ...(d.alias === undefined ? [] : [d.alias].flat())]) {
      parsed[name] = value;
      parsed[camel(name)] = value;
    }
  }
  return parsed;
}
