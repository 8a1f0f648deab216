/**
 * How fast orders go out: a token bucket filled at the plan's rate (fixed, or an exponential ramp
 * as AWS IoT Jobs' `exponentialRate`). The bucket lives in the rollout record, so every instance
 * sharing the rollout spends from the same one and a restart does not refill it.
 *
 * @module
 */
import type { RolloutPace } from './plan.js';

/** Devices per minute the plan allows now; `Infinity` without pacing. */
export function ratePerMinute(
  pace: RolloutPace | null,
  progress: { succeeded: number; notified: number },
): number {
  if (pace === null) return Number.POSITIVE_INFINITY;
  if ('perMinute' in pace) return pace.perMinute;
  const { basePerMinute, factor, every, of, maxPerMinute } = pace.ramp;
  const done = of === 'notified' ? progress.notified : progress.succeeded;
  const steps = Math.floor(done / every);
  // factor ≥ 1.01 and the cap keep this finite; the exponent is bounded to avoid Infinity maths.
  return Math.min(maxPerMinute, basePerMinute * factor ** Math.min(steps, 1000));
}

/** The most tokens a bucket holds: ten seconds' worth, and at least one device. */
export function bucketSize(perMinute: number): number {
  return Math.max(1, perMinute / 6);
}

/** The bucket after refilling from `refilledAt` to `now`. A new bucket holds one token. */
export function refill(
  bucket: { tokens: number; refilledAt: number | null },
  perMinute: number,
  now: number,
): { tokens: number; refilledAt: number } {
  if (!Number.isFinite(perMinute)) return { tokens: Number.POSITIVE_INFINITY, refilledAt: now };
  const size = bucketSize(perMinute);
  if (bucket.refilledAt === null || !Number.isFinite(bucket.tokens)) {
    return { tokens: Math.min(size, 1), refilledAt: now };
  }
  const earned = (Math.max(0, now - bucket.refilledAt) * perMinute) / 60_000;
  return { tokens: Math.min(size, bucket.tokens + earned), refilledAt: now };
}

/** Milliseconds until the bucket holds one whole token. */
export function untilNextToken(tokens: number, perMinute: number): number {
  if (tokens >= 1 || !Number.isFinite(perMinute)) return 0;
  return Math.ceil(((1 - tokens) * 60_000) / perMinute);
}
