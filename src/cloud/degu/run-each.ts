/**
 * Runs one piece of work per thing, a few at a time, keeping the results in the order of the
 * things: a publish to a thousand shadows must not open a thousand requests at once (AWS throttles
 * a connection beyond 10 requests in flight), nor wait for each in turn.
 *
 * @module
 */
import { abortReason } from '../../core/abort.js';

/**
 * `work` for each item, at most `concurrency` at once. Work that throws rejects the whole run;
 * callers that want a result per item catch inside `work`. An aborted `signal` stops starting new
 * work and rejects with its reason.
 */
export async function runEach<T, R>(
  items: readonly T[],
  concurrency: number,
  signal: AbortSignal | undefined,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      if (signal?.aborted) throw abortReason(signal);
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return results;
}
