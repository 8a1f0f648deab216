/**
 * The update check of the Connhex OTA addon as a pure function: given what the `HEAD` on the
 * release endpoint returned and the installed version, decide whether an update is available
 * and what the addon does next. "A release with a **different** version" is the documented rule
 * (docs/protocols/connhex.md, "How an order reaches the device"), so the comparison is
 * inequality unless a version order is supplied.
 *
 * @module
 */
import { ManifestError, type OtaError, TransportError } from '../../core/errors.js';
import type { OtaConfig } from './config.js';
import { type HeadersLike, parseReleaseHeaders } from './headers.js';
import type { ReleaseMetadata } from './schemas.js';

/** What a `HEAD` returned: the status code and the headers. */
export interface CheckResponse {
  status: number;
  headers: HeadersLike;
}

/** Why a check found nothing to do. */
export type UpToDateReason =
  /** `Version` equals the installed version. */
  | 'same-version'
  /** `204`: the artifact API has no eligible upgrade for the `Version` sent. */
  | 'no-eligible-release'
  /** `304`: the selected release did not change (`If-None-Match`). */
  | 'not-modified'
  /** A version order was supplied and the release is not newer (no downgrade). */
  | 'not-newer'
  /** A version order was supplied and the installed version is outside `Min-Version`/`Max-Version`. */
  | 'not-eligible';

/** The decision of one check. */
export type CheckDecision =
  | {
      kind: 'available';
      /** The release the `HEAD` selected. */
      release: ReleaseMetadata;
      /** Download it now (`auto_download` or `auto_install`). */
      download: boolean;
      /** Run its `update.sh` after the download (`auto_install`). */
      install: boolean;
    }
  | { kind: 'up-to-date'; reason: UpToDateReason; release?: ReleaseMetadata }
  | {
      kind: 'failed';
      /** The status to report is `check_failed` with this error's message. */
      error: OtaError;
    };

export interface DecideOptions {
  /** Which automatic steps are on (from `agent.toml`). Default: neither (report only, C4). */
  config?: Pick<OtaConfig, 'autoDownload' | 'autoInstall'>;
  /**
   * A version order (negative, zero, positive like `Array.sort`). Without it the decision is the
   * addon's: any *different* version is an update, a downgrade included (C13). With it, only a
   * newer release is an update, and `Min-Version` (inclusive) / `Max-Version` (exclusive) are
   * enforced against the installed version.
   */
  compareVersions?: (a: string, b: string) => number;
  /** Require a SHA-256 `Content-Digest` on an available release. @default false */
  requireDigest?: boolean;
}

function failure(status: number, message: string, retryable: boolean): CheckDecision {
  return { kind: 'failed', error: new TransportError(message, { status, retryable }) };
}

/**
 * Decides what one check means (the HEAD check of docs/protocols/connhex.md; vectors C4, C8, C11, C13).
 *
 * - `200` with a `Version` different from `currentVersion` → `available` (status
 *   `update_available`), with `download`/`install` from the config;
 * - `200` with the same `Version`, `204`, `304` → `up-to-date`;
 * - anything else, or a `200` whose headers cannot be read → `failed` (status `check_failed`):
 *   `401`/`403` bad key, `404` no firmware for this device, `400` bad id or version, `5xx`. Errors
 *   are retryable except for `400`, `401`, `403` and unreadable headers.
 *
 * Network errors never reach this function; report them as `check_failed` directly.
 *
 * @example
 * ```ts
 * const decision = connhex.decideUpdate({ status: 200, headers: { Version: '"0.0.3"' } }, '0.0.2')
 * // { kind: 'available', release: { version: '0.0.3' }, download: false, install: false }
 * ```
 */
export function decideUpdate(
  response: CheckResponse,
  currentVersion: string,
  options: DecideOptions = {},
): CheckDecision {
  const { status } = response;
  if (status === 204) return { kind: 'up-to-date', reason: 'no-eligible-release' };
  if (status === 304) return { kind: 'up-to-date', reason: 'not-modified' };
  if (status !== 200) {
    if (status === 401 || status === 403) {
      return failure(status, `Connhex release check refused the credentials (HTTP ${status})`, false);
    }
    if (status === 404)
      return failure(status, 'Connhex has no firmware release for this device (HTTP 404)', true);
    if (status === 400)
      return failure(status, 'Connhex rejected the firmware id or Version (HTTP 400)', false);
    const retryable = status === 408 || status === 429 || status >= 500;
    return failure(status, `Connhex release check failed (HTTP ${status})`, retryable);
  }
  let release: ReleaseMetadata;
  try {
    release = parseReleaseHeaders(
      response.headers,
      options.requireDigest === undefined ? {} : { requireDigest: options.requireDigest },
    );
  } catch (error) {
    if (error instanceof ManifestError) return { kind: 'failed', error };
    throw error;
  }
  if (release.version === currentVersion) return { kind: 'up-to-date', reason: 'same-version', release };
  const compare = options.compareVersions;
  if (compare !== undefined && currentVersion !== '') {
    if (compare(release.version, currentVersion) <= 0)
      return { kind: 'up-to-date', reason: 'not-newer', release };
    const belowMin = release.minVersion !== undefined && compare(currentVersion, release.minVersion) < 0;
    const atOrAboveMax = release.maxVersion !== undefined && compare(currentVersion, release.maxVersion) >= 0;
    if (belowMin || atOrAboveMax) return { kind: 'up-to-date', reason: 'not-eligible', release };
  }
  const install = options.config?.autoInstall ?? false;
  return {
    kind: 'available',
    release,
    download: install || (options.config?.autoDownload ?? false),
    install,
  };
}
