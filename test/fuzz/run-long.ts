/**
 * `npm run fuzz`: the fuzz targets of test/fuzz/targets.ts for longer (FUZZ_SECONDS, default
 * 60, shared among the targets), in rounds with a fresh seed per round (from FUZZ_SEED when
 * given, else random). Every seed is printed before it runs, so any failure can be replayed
 * with `FUZZ_SEED=<seed> node --test dist/test/fuzz/fuzz.test.js`. Exits 1 on a failure.
 */
import { fuzzLiveDaemon, Rng, seedFromEnv, syncTargets } from './targets.js';

const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
if (!(seconds > 0)) {
  process.stderr.write('FUZZ_SECONDS must be a positive number\n');
  process.exit(2);
}
const first = seedFromEnv(Math.floor(Math.random() * 2 ** 32));
const seeds = new Rng(first);
const ROUND_MS = 2000;
const deadline = Date.now() + seconds * 1000;
const names = [...Object.keys(syncTargets), 'live-daemon'];
let round = 0;
let cases = 0;

process.stdout.write(`fuzzing for ${seconds} s, first seed ${first}\n`);
try {
  while (Date.now() < deadline) {
    const name = names[round % names.length]!;
    const seed = round === 0 ? first : Math.floor(seeds.next() * 2 ** 32);
    process.stdout.write(`round ${round}: ${name} seed ${seed}\n`);
    const budget = Math.min(ROUND_MS, Math.max(100, deadline - Date.now()));
    cases +=
      name === 'live-daemon'
        ? await fuzzLiveDaemon(seed, budget)
        : syncTargets[name as keyof typeof syncTargets](seed, budget);
    round++;
  }
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
process.stdout.write(`done: ${round} rounds, ${cases} cases, no failure\n`);
