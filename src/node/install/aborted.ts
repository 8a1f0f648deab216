/**
 * The error an aborted install step throws. The signal's reason is kept when it already is an
 * otakit error (the machine aborts with an `AbortError`, a phase deadline with a `TimeoutError`);
 * anything else, such as the DOMException of a bare `controller.abort()`, becomes an
 * {@link AbortError} with the reason as `cause`, so callers can always test `code === 'ABORTED'`.
 *
 * @module
 */
import { abortReason } from '../../core/abort.js';
import { AbortError, isOtaError } from '../../core/errors.js';

export function abortedError(signal: AbortSignal): Error {
  const reason = abortReason(signal);
  return isOtaError(reason)
    ? reason
    : new AbortError(reason.message || 'Operation aborted', { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}
