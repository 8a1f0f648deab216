/**
 * The 409 rule both clients follow: an update made with `version` that the service refuses with
 * "Version conflict" is answered by reading the shadow afresh and trying once more at the fresh
 * version. Once, because a second conflict means someone else keeps writing: the caller decides.
 *
 * @module
 */
import type { ShadowGetAccepted, ShadowUpdateAccepted } from '../../protocols/degu/shadow-schemas.js';
import { isShadowRejected } from './errors.js';
import type { ShadowRequestOptions, ShadowRequestState, ShadowUpdateOptions } from './types.js';

/** One update attempt, as the client sends it. */
export interface UpdateAttempt {
  state: ShadowRequestState;
  version: number | undefined;
}

/**
 * Runs `send` once, and on a 409 to a versioned request reads the shadow with `get` and runs it
 * once more as `options.onConflict` says.
 */
export async function updateWithConflictRetry(
  state: ShadowRequestState,
  options: ShadowUpdateOptions,
  send: (attempt: UpdateAttempt) => Promise<ShadowUpdateAccepted>,
  get: (options: ShadowRequestOptions) => Promise<ShadowGetAccepted>,
): Promise<ShadowUpdateAccepted> {
  try {
    return await send({ state, version: options.version });
  } catch (error) {
    const onConflict = options.onConflict ?? true;
    if (options.version === undefined || onConflict === false || !isShadowRejected(error, 409)) throw error;
    const requestOptions: ShadowRequestOptions = {};
    if (options.signal !== undefined) requestOptions.signal = options.signal;
    if (options.timeoutMs !== undefined) requestOptions.timeoutMs = options.timeoutMs;
    const fresh = await get(requestOptions);
    const retry = onConflict === true ? state : await onConflict(fresh);
    if (retry === null) throw error;
    return send({ state: retry, version: fresh.version });
  }
}
