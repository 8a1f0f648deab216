/**
 * The promise twin of the event API: wait until a machine reaches a state, or any condition on
 * its snapshot holds.
 *
 * @module
 */
import { abortReason } from '../core/abort.js';
import { type Clock, systemClock } from '../core/clock.js';
import { TimeoutError } from '../core/errors.js';
import type { UpdateState } from '../core/states.js';
import type { MachineBase } from './machine-base.js';
import type { UpdateSnapshot } from './record.js';

export interface WaitForOptions {
  signal?: AbortSignal;
  /** Give up after this many ms with a `TimeoutError`. */
  timeout?: number;
  /** Clock for the timeout. @default systemClock */
  clock?: Clock;
}

/**
 * Resolves with the first snapshot (the current one included) that matches `condition`: a state
 * name, a list of states, or a predicate.
 *
 * @example
 * ```ts
 * const snapshot = await waitFor(machine, ['committed', 'rolled_back'], { timeout: 60_000 })
 * ```
 */
export function waitFor(
  machine: Pick<MachineBase, 'snapshot' | 'on' | 'off'>,
  condition: UpdateState | readonly UpdateState[] | ((snapshot: UpdateSnapshot) => boolean),
  options: WaitForOptions = {},
): Promise<UpdateSnapshot> {
  const matches =
    typeof condition === 'function'
      ? condition
      : (snapshot: UpdateSnapshot) =>
          typeof condition === 'string' ? snapshot.state === condition : condition.includes(snapshot.state);
  const clock = options.clock ?? systemClock;
  return new Promise<UpdateSnapshot>((resolve, reject) => {
    const { signal, timeout } = options;
    if (signal?.aborted) return reject(abortReason(signal));
    const initial = machine.snapshot();
    if (matches(initial)) return resolve(initial);
    const cleanup = () => {
      machine.off('transition', onChange);
      machine.off('progress', onChange);
      signal?.removeEventListener('abort', onAbort);
      if (timer !== undefined) clock.clearTimeout(timer);
    };
    const onChange = () => {
      const snapshot = machine.snapshot();
      if (!matches(snapshot)) return;
      cleanup();
      resolve(snapshot);
    };
    const onAbort = () => {
      cleanup();
      reject(abortReason(signal!));
    };
    const timer =
      timeout === undefined
        ? undefined
        : clock.setTimeout(() => {
            cleanup();
            reject(new TimeoutError('waitFor', timeout));
          }, timeout);
    machine.on('transition', onChange);
    machine.on('progress', onChange);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
