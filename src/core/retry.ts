/**
 * Retry budgets with exponential backoff and jitter.
 *
 * @module
 */

export interface RetryPolicy {
  /**
   * Attempts in total, the first included. `1` means no retry.
   * @default 3
   */
  attempts: number;
  /**
   * Delay before the first retry, in ms.
   * @default 1000
   */
  baseDelayMs: number;
  /**
   * Upper bound of any single delay, in ms.
   * @default 60000
   */
  maxDelayMs: number;
  /**
   * Growth factor between retries.
   * @default 2
   */
  factor: number;
  /**
   * `full` jitter picks uniformly in `[0, delay]` (spreads a fleet that failed at once, as AWS
   * recommends); `none` is deterministic.
   * @default 'full'
   */
  jitter: 'full' | 'none';
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  factor: 2,
  jitter: 'full',
};

/**
 * The delay before retry number `retry` (1 for the first retry).
 * @param random - injectable for tests; defaults to `Math.random`.
 */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const exponential = Math.min(
    policy.maxDelayMs,
    policy.baseDelayMs * policy.factor ** Math.max(0, retry - 1),
  );
  return policy.jitter === 'full' ? Math.floor(random() * exponential) : exponential;
}
