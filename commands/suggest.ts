/**
 * "Did you mean": the known option closest to an unknown one (`--histroy` → `--history`),
 * by edit distance with swapped neighbours counting as one edit (the commonest typo).
 * yargs' recommendCommands covers subcommands only.
 */

/** Edits (insert, delete, replace, swap two neighbours) to turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  // Three rows of the optimal-string-alignment table: the one before, the last, this one.
  let before: number[] = [];
  let last = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(last[j]! + 1, row[j - 1]! + 1, last[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1);
      row.push(d);
    }
    before = last;
    last = row;
  }
  return last[b.length]!;
}

/**
 * The candidate closest to `word`, when close enough to be a typo of it: at most one edit
 * for short words, two from seven characters on, and no tie between two candidates.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = word.length >= 7 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let tie = false;
  for (const candidate of new Set(candidates)) {
    if (candidate === word) continue;
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
      tie = false;
    } else if (d === bestDistance) tie = true;
  }
  return best !== undefined && bestDistance <= limit && !tie ? best : undefined;
}
