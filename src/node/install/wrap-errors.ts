/**
 * Turns a failed installer operation into an {@link InstallError} with the operation's code,
 * keeping otakit errors (an abort, a refusal) as they are and the system error as `cause`.
 *
 * @module
 */

import { abortReason } from '../../core/abort.js';
import { InstallError, isOtaError } from '../../core/errors.js';

export type InstallOperation = 'INSTALL' | 'COMMIT' | 'ROLLBACK';

const VERB: Record<InstallOperation, string> = { INSTALL: 'Install', COMMIT: 'Commit', ROLLBACK: 'Rollback' };

export async function asInstallError<T>(
  operation: InstallOperation,
  target: string,
  body: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await body();
  } catch (error) {
    // A stream aborted mid-read throws Node's own AbortError; report the signal's reason instead,
    // as every other otakit call does.
    if (signal?.aborted) throw abortReason(signal);
    if (isOtaError(error)) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new InstallError(`${VERB[operation]} of ${target} failed: ${detail}`, {
      code: operation,
      cause: error,
      // Most failures here are I/O (disk full, EIO): trying again after a pause may succeed,
      // and every operation is idempotent, so a retry is always safe.
      retryable: true,
    });
  }
}
