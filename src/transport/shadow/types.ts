/**
 * What both AWS IoT Device Shadow clients (MQTT and REST) have in common: the request state a
 * caller writes, the options of each operation, and the operations themselves. The documents they
 * resolve with are the generic shadow documents of the `degu` namespace (any JSON state).
 *
 * @module
 */
import type { JsonObject } from '../../protocols/degu/json.js';
import type {
  ShadowDeleteAccepted,
  ShadowGetAccepted,
  ShadowUpdateAccepted,
} from '../../protocols/degu/shadow-schemas.js';
import type { ShadowAddress } from '../../protocols/degu/topics.js';

export type { ShadowAddress } from '../../protocols/degu/topics.js';

/**
 * The `state` of a request document: partial sections merged into the shadow (`null` removes a
 * key; a section set to `null` removes the whole section).
 */
export interface ShadowRequestState {
  desired?: JsonObject | null;
  reported?: JsonObject | null;
}

/** The three shadow operations. */
export type ShadowOperation = 'get' | 'update' | 'delete';

/** Options of every request. */
export interface ShadowRequestOptions {
  /** Aborts the wait for the answer (the request itself may still reach the service). */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this request. */
  timeoutMs?: number;
}

/**
 * What to do when an update made with `version` is refused with 409 "Version conflict": the
 * client reads the shadow afresh and calls this with it. Return the state to write at the fresh
 * version (once), or `null` to give up (the 409 is thrown).
 */
export type ShadowConflictResolver = (
  fresh: ShadowGetAccepted,
) => ShadowRequestState | null | Promise<ShadowRequestState | null>;

/** Options of `update`. */
export interface ShadowUpdateOptions extends ShadowRequestOptions {
  /**
   * Optimistic lock: the service applies the update only if the shadow is at this version, and
   * answers 409 "Version conflict" otherwise.
   */
  version?: number;
  /**
   * On a 409: read the shadow afresh and retry once at its version, with the same state (`true`),
   * with what a resolver returns, or not at all (`false`: the 409 is thrown).
   * @default true
   */
  onConflict?: boolean | ShadowConflictResolver;
}

/** The operations both clients offer. */
export interface ShadowOperations {
  /** Which shadow: a thing, and a shadow name for a named shadow. */
  readonly address: ShadowAddress;
  /**
   * The whole shadow (`desired`, `reported`, the computed `delta`, metadata, `version`).
   * @throws ShadowRejectedError (404 when the shadow does not exist), TimeoutError, TransportError
   */
  get(options?: ShadowRequestOptions): Promise<ShadowGetAccepted>;
  /**
   * Merges `state` into the shadow.
   * @throws ShadowRejectedError (400, 409…), TimeoutError, TransportError; a `ManifestError`
   *   before anything is sent when the request breaks an AWS rule (8 KB, nesting, `null` in arrays)
   */
  update(state: ShadowRequestState, options?: ShadowUpdateOptions): Promise<ShadowUpdateAccepted>;
  /** Deletes the shadow (its version keeps counting if it is created again). */
  delete(options?: ShadowRequestOptions): Promise<ShadowDeleteAccepted>;
}
