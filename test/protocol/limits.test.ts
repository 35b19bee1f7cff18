/**
 * The limit declarations against docs/protocol.md's limit table and `serve --help`: every
 * declared limit has exactly one row with its field, flag and default, and the table names
 * nothing that is not declared.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  contradictoryLimits,
  daemonLimitList,
  defaultDaemonLimits,
  type LimitDeclaration,
  minQueueBytes,
  minRecordBytes,
} from '../../lib/protocol/limits.js';
import { builtCli, repoRoot } from '../helpers/paths.js';

/** A default as the table writes it. */
function rendered(d: LimitDeclaration): string {
  const v = d.default;
  const binary = (n: number): string =>
    n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
  switch (d.unit) {
    case 'bytes':
      return binary(v);
    case 'bytes/s':
      return `${binary(v)}/s`;
    case 'frames/s':
    case 'handshakes/s':
    case 'joins/s':
      return `${v}/s`;
    case 'ms':
      return `${v / 1000} s`;
    case 'messages':
      return `${v} messages`;
    case 'characters':
      return `${v} characters`;
    case 'count':
      return `${v}`;
  }
}

interface Row {
  field: string;
  flag: string;
  default: string;
}

function limitTable(): Row[] {
  const doc = readFileSync(join(repoRoot, 'docs', 'protocol.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Limits (daemon)'), doc.indexOf('Client limits'));
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 6 || !cells[2]!.startsWith('`')) continue;
    rows.push({ field: cells[2]!, flag: cells[3]!, default: cells[4]! });
  }
  return rows;
}

test('docs/protocol.md has one row per declared limit, with its field, flag and default', () => {
  const rows = limitTable();
  const declared = new Set(daemonLimitList.map(([name]) => `\`${name}\``));
  for (const row of rows) assert.ok(declared.has(row.field), `the table lists undeclared ${row.field}`);
  for (const [name, d] of daemonLimitList) {
    const matching = rows.filter((r) => r.field === `\`${name}\``);
    assert.equal(matching.length, 1, `one row for ${name}`);
    const row = matching[0]!;
    const flags = row.flag.match(/`--[a-z-]+`/g) ?? [];
    assert.deepEqual(
      flags,
      d.flag === undefined ? [] : [`\`--${d.flag}\``, ...(d.aliases ?? []).map((a) => `\`--${a}\``)],
      `flag of ${name}`,
    );
    if (d.flag === undefined) assert.equal(row.flag, '(fixed)');
    assert.equal(row.default, rendered(d), `default of ${name}`);
  }
});

test('serve --help offers every declared flag with its default', () => {
  const help = spawnSync(process.execPath, [builtCli, 'serve', '--help'], { encoding: 'utf8' }).stdout;
  for (const [, d] of daemonLimitList) {
    if (d.flag === undefined) continue;
    const seconds = d.unit === 'ms' ? d.default / 1000 : d.default;
    // The description may wrap over a few lines indented past the options' own (6 spaces).
    assert.match(help, new RegExp(`--${d.flag}\\s[^\\n]*(\\n {8,}[^\\n]*){0,3}\\[default: ${seconds}\\]`));
  }
});

test('the default limits do not contradict each other; a queue below a full init does', () => {
  assert.equal(contradictoryLimits(defaultDaemonLimits), undefined);
  const need = minQueueBytes(defaultDaemonLimits);
  assert.match(
    contradictoryLimits({ ...defaultDaemonLimits, maxQueueBytes: need - 1 }) ?? '',
    /^--max-queue \d+ is smaller than a late joiner's init with a full history .*$/,
  );
  assert.equal(
    contradictoryLimits({ ...defaultDaemonLimits, maxQueueBytes: need, roomBurstBytes: need - 1 }),
    undefined,
  );
  // A room's burst must fit in a reader's queue while the room rate is on.
  const queue = defaultDaemonLimits.maxQueueBytes;
  assert.match(
    contradictoryLimits({ ...defaultDaemonLimits, roomBurstBytes: queue }) ?? '',
    /^--room-burst-bytes \d+ is not below --max-queue \d+: /,
  );
  assert.equal(
    contradictoryLimits({ ...defaultDaemonLimits, roomBurstBytes: queue, roomRateBytesPerSecond: 0 }),
    undefined,
  );
  const record = minRecordBytes(defaultDaemonLimits);
  assert.match(
    contradictoryLimits({ ...defaultDaemonLimits, maxRecordBytes: record - 1 }) ?? '',
    /^--max-frame \d+ is smaller than a record carrying the largest message/,
  );
  assert.equal(contradictoryLimits({ ...defaultDaemonLimits, maxRecordBytes: record }), undefined);
});
