/**
 * `serve`'s limit flags, derived from the declarations in lib/protocol/limits.ts: the yargs
 * options, their validation and the `DaemonLimits` object built from parsed arguments.
 */
import type { Argv, Options } from 'yargs';
import {
  contradictoryLimits,
  type DaemonLimits,
  daemonLimitList,
  defaultDaemonLimits,
  type LimitDeclaration,
} from '../lib/protocol/limits.js';
import { UsageError } from './usage-error.js';

/** After every other group in `serve --help`: each limit has a default that suits most daemons. */
const GROUP = 'Limits (defaults suit most daemons; docs/protocol.md explains each):';

/** The flag's value for a limit's value (seconds for a limit kept in ms). */
function toFlagValue(d: LimitDeclaration, value: number): number {
  return d.unit === 'ms' ? value / 1000 : value;
}

/** One option per declared limit flag, by flag name (read by serve-fast.ts too). */
export function limitOptions(): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const [, d] of daemonLimitList) {
    if (d.flag === undefined) continue;
    const option: Options = {
      type: 'number',
      default: toFlagValue(d, d.default),
      group: GROUP,
      describe: d.describe,
    };
    if (d.aliases !== undefined) option.alias = [...d.aliases];
    options[d.flag] = option;
  }
  return options;
}

/** Adds one option per declared limit flag. */
export function withLimitOptions<T>(y: Argv<T>): Argv<T> {
  return y.options(limitOptions()) as Argv<T>;
}

/** Reads a parsed flag by its dashed name (yargs keeps both spellings). */
function flagValue(args: object, flag: string): unknown {
  return (args as Record<string, unknown>)[flag];
}

/**
 * The daemon's limits from parsed arguments; throws a UsageError (one line) for a value
 * out of range or for limits that contradict each other.
 */
export function limitsFromArgs(args: object): DaemonLimits {
  const limits: DaemonLimits = { ...defaultDaemonLimits };
  for (const [name, d] of daemonLimitList) {
    if (d.flag === undefined) continue;
    const value = flagValue(args, d.flag);
    if (d.unit === 'ms') {
      const off = d.zeroTurnsOff === true && value === 0;
      if (typeof value !== 'number' || !Number.isFinite(value) || !(value > d.min || off))
        throw new UsageError(
          `--${d.flag} must be a number of seconds above ${d.min}${d.zeroTurnsOff ? ', or 0 (off)' : ''}`,
        );
      limits[name] = Math.round(value * 1000);
    } else {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < d.min)
        throw new UsageError(`--${d.flag} must be a whole number ≥ ${d.min}`);
      limits[name] = value;
    }
  }
  const contradiction = contradictoryLimits(limits);
  if (contradiction !== undefined) throw new UsageError(contradiction);
  return limits;
}
