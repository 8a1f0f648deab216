/**
 * Randomness the simulator draws from: which devices fail, how long each step takes, when a device
 * reboots or drops off. A seeded source makes a dry run repeatable: the same seed, devices and
 * orders give the same faults and the same timings (on a `ManualClock`, the same run).
 *
 * @module
 */

/** A step's duration: a fixed number of ms, or a range `[min, max]` drawn uniformly. */
export type MsRange = number | readonly [min: number, max: number];

/**
 * A small, fast, seedable generator (mulberry32): uniform in `[0, 1)`, 2^32 states, good enough to
 * spread faults and latencies over a fleet, and not for anything secret.
 *
 * @example
 * ```ts
 * const random = seededRandom(42)
 * const sim = createFleetSimulator({ protocol, devices, channels, random })
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A duration drawn from `range` (whole ms, never negative). */
export function drawMs(range: MsRange | undefined, random: () => number): number {
  if (range === undefined) return 0;
  if (typeof range === 'number') return Math.max(0, range);
  const [min, max] = range;
  return Math.max(0, Math.round(min + (max - min) * random()));
}

/** Whether an event of probability `rate` happens this time (no draw for 0 or 1). */
export function chance(rate: number | undefined, random: () => number): boolean {
  if (rate === undefined || rate <= 0) return false;
  if (rate >= 1) return true;
  return random() < rate;
}
