/**
 * How many cases each fuzz property runs: `FUZZ_RUNS` (default 10 000). Develop with a few
 * hundred (`FUZZ_RUNS=500 npm run test:fuzz`); CI runs the default. A failing property prints
 * its seed and counterexample path; replay it with `FUZZ_SEED=<seed> FUZZ_PATH=<path>`.
 *
 * Seeds: with `CI` set and no `FUZZ_SEED`, every property runs from {@link CI_SEED}, so CI is a
 * reproducible gate (the same 10 000 cases on every run of a commit) and a red CI always replays.
 * Elsewhere each run draws a fresh seed, which is how new inputs are explored: a failure found
 * that way is fixed with a regression test in the normal suite (as the Exosite lone-surrogate
 * case was). `FUZZ_SEED=random` explores in CI too.
 */
import type fc from 'fast-check';

/** The positive integer in environment variable `name`, or `fallback` when it is unset. */
export function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

export const FUZZ_RUNS = positiveInteger('FUZZ_RUNS', 10_000);

/** `10 000`, for test titles. */
export const RUNS_LABEL = FUZZ_RUNS.toLocaleString('en-US').replaceAll(',', ' ');

/** The seed of CI runs (any fixed integer; changing it explores a new set of cases). */
export const CI_SEED = 20_261_205;

function seedOf(): string | undefined {
  const seed = process.env.FUZZ_SEED;
  if (seed === 'random') return undefined;
  if (seed !== undefined && seed !== '') return seed;
  return process.env.CI ? String(CI_SEED) : undefined;
}

/** fast-check parameters shared by every fuzz property (seed and path replay a failure). */
export function fuzzParameters<T>(): fc.Parameters<T> {
  const seed = seedOf();
  const path = process.env.FUZZ_PATH;
  return {
    numRuns: FUZZ_RUNS,
    ...(seed === undefined || seed === '' ? {} : { seed: Number(seed) }),
    ...(path === undefined || path === '' ? {} : { path }),
  };
}

/** Cases run per file, printed once at the end so the CI log shows what was covered. */
const counts = new Map<string, number>();

export function countCase(label: string): void {
  counts.set(label, (counts.get(label) ?? 0) + 1);
}

/** The slowest call seen in this file: the margin under the hang limit, printed with the counts. */
let slowest = { label: '', ms: 0 };

export function noteElapsed(label: string, ms: number): void {
  if (ms > slowest.ms) slowest = { label, ms };
}

export function printCounts(file: string): void {
  const lines = [...counts].map(([label, count]) => `  ${label}: ${count}`);
  // Labels indented with spaces are details (what the cases reached), not cases.
  const total = [...counts]
    .filter(([label]) => !label.startsWith(' '))
    .reduce((sum, [, count]) => sum + count, 0);
  const margin = slowest.ms > 0 ? `\n  slowest call: ${Math.round(slowest.ms)} ms (${slowest.label})` : '';
  console.info(`${file}: ${total} fuzz cases (FUZZ_RUNS=${FUZZ_RUNS})\n${lines.join('\n')}${margin}`);
}
