/**
 * The typed error of a request the shadow service refused: the AWS error document (`code`,
 * `message`) of a `/rejected` topic or of a REST error response, kept as fields. A
 * `TransportError`, so code that only knows otakit's error model handles it as a failed exchange
 * (`status` is the AWS code, `retryable` for 429 and 5xx).
 *
 * @module
 */
import { isOtaError, type OtaErrorOptions, TransportError } from '../../core/errors.js';
import type { ShadowError } from '../../protocols/degu/shadow-schemas.js';
import type { ShadowAddress, ShadowOperation } from './types.js';

/** Codes another identical request may get past: throttling, service faults, a gateway in between. */
const RETRYABLE = new Set([429, 500, 502, 503, 504]);

/** Error messages name the shadow, never a payload, a token or a credential. */
export function describeShadow(address: ShadowAddress): string {
  return address.shadowName === undefined
    ? `the classic shadow of "${address.thingName}"`
    : `shadow "${address.shadowName}" of "${address.thingName}"`;
}

export class ShadowRejectedError extends TransportError {
  override name = 'ShadowRejectedError';
  /** Which request was refused. */
  readonly operation: ShadowOperation;
  /** The AWS error code (400, 401, 403, 404, 409, 413, 415, 429, 500…); also `status`. */
  readonly shadowCode: number;
  /** The AWS error message, e.g. `Version conflict`. */
  readonly shadowMessage: string;
  /** The client token the service echoed, if any. */
  readonly clientToken: string | undefined;

  constructor(
    operation: ShadowOperation,
    address: ShadowAddress,
    error: Pick<ShadowError, 'code' | 'message' | 'clientToken'>,
    options: OtaErrorOptions = {},
  ) {
    // The AWS message is the service's own fixed text ("Version conflict", "No shadow exists with
    // name: '…'"): it never carries the request, so it may be repeated.
    const message = String(error.message).slice(0, 200);
    super(`Shadow ${operation} of ${describeShadow(address)} was rejected: ${error.code} ${message}`, {
      retryable: RETRYABLE.has(error.code),
      ...options,
      status: error.code,
    });
    this.operation = operation;
    this.shadowCode = error.code;
    this.shadowMessage = message;
    this.clientToken = error.clientToken;
  }
}

/**
 * Whether `value` is a {@link ShadowRejectedError}, optionally with the given AWS code. Checks
 * the name and fields, not only `instanceof`, so it works across copies of the package.
 *
 * @example
 * ```ts
 * try { await shadow.get() } catch (error) {
 *   if (isShadowRejected(error, 404)) console.log('no shadow yet')
 * }
 * ```
 */
export function isShadowRejected(value: unknown, code?: number): value is ShadowRejectedError {
  if (!isOtaError(value, 'TRANSPORT')) return false;
  const candidate = value as { name?: unknown; shadowCode?: unknown };
  if (candidate.name !== 'ShadowRejectedError' || typeof candidate.shadowCode !== 'number') return false;
  return code === undefined || candidate.shadowCode === code;
}
