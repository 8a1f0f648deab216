/**
 * AbortSignal helpers built on an injected {@link Clock}, so a timeout is testable and a hook
 * that ignores its signal still cannot wedge the machine.
 *
 * @module
 */
import type { Clock } from './clock.js';
import { AbortError, isOtaError, TimeoutError } from './errors.js';

/**
 * The reason a signal was aborted, as the error to throw: always an otakit error, so callers
 * can test `code === 'ABORTED'` (or `TIMEOUT`) wherever the cancel happened (download,
 * extraction, install). The reason is kept when it already is an otakit error (the machine
 * aborts with an `AbortError`, a deadline with a `TimeoutError`); anything else, such as the
 * DOMException of a bare `controller.abort()`, becomes an {@link AbortError} with the reason as
 * `cause`.
 */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (isOtaError(reason)) return reason;
  if (reason instanceof Error)
    return new AbortError(reason.message || 'Operation aborted', { cause: reason });
  return new AbortError(String(reason ?? 'Operation aborted'), { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** A signal aborted by `parent` or, after `timeoutMs` on `clock`, with a {@link TimeoutError}. */
export function deadlineSignal(
  parent: AbortSignal,
  timeoutMs: number | undefined,
  clock: Clock,
  what: string,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', onParentAbort, { once: true });
  const timer =
    timeoutMs !== undefined && Number.isFinite(timeoutMs)
      ? clock.setTimeout(() => controller.abort(new TimeoutError(what, timeoutMs)), timeoutMs)
      : undefined;
  return {
    signal: controller.signal,
    dispose: () => {
      parent.removeEventListener('abort', onParentAbort);
      if (timer !== undefined) clock.clearTimeout(timer);
    },
  };
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts, whichever is first. A hook that
 * ignores its signal is abandoned rather than awaited forever.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {});
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Waits `ms` on `clock`, rejecting early if `signal` aborts. */
export function sleep(ms: number, clock: Clock, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    // No delay needs no timer: a zero backoff must not wait for a (possibly manual) clock.
    if (ms <= 0) return resolve();
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
