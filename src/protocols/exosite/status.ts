/**
 * The 15 `otau_in` statuses against the canonical states (docs/protocols/exosite.md, "Status"), and the
 * conversion of a machine's `UpdateStatus` to and from an `otau_in` message.
 *
 * Exosite has no word for `checking`, `verifying` or `rolling_back` (a device says nothing then), and one
 * word, `INSTALLED_VERSION`, for both "this is what I run" (at boot: `idle`) and "the update took" (after a
 * restart: `committed`). The static table reads it as `committed`; {@link statusToCanonical} tells the two
 * apart when it knows which update is being followed.
 *
 * @module
 */
import type { SerializedOtaError } from '../../core/errors.js';
import { redactUrlWith } from '../../core/redact.js';
import { FAILURE_ERROR_CODES, isFailureState, type UpdateState } from '../../core/states.js';
import type { UpdateStatus } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import type { StatusMapping } from '../conversion.js';
import { LIMITS } from './limits.js';
import { type OtauStatus, type OtauStatusCode, OtauStatusSchema } from './schemas.js';
import { ownSecrets } from './secrets.js';

/**
 * Exosite statuses ↔ canonical states.
 *
 * | wire | canonical | back to wire |
 * | --- | --- | --- |
 * | `INIT`, `TEST`, `TEST_STEP`, `TEST_SUCCESS` | `available` | `INIT` |
 * | `TEST_ERROR` | `check_failed` | `TEST_ERROR` |
 * | `DOWNLOAD`, `DOWNLOAD_STEP` | `downloading` | `DOWNLOAD` (`DOWNLOAD_STEP` for progress) |
 * | `DOWNLOAD_SUCCESS` | `downloaded` | `DOWNLOAD_SUCCESS` |
 * | `DOWNLOAD_ERROR` | `download_failed` | `DOWNLOAD_ERROR` (also for `verify_failed`) |
 * | `INSTALL`, `INSTALL_STEP` | `installing` | `INSTALL` (`INSTALL_STEP` for progress) |
 * | `INSTALL_SUCCESS` | `installed` | `INSTALL_SUCCESS` |
 * | `INSTALL_ERROR` | `install_failed` | `INSTALL_ERROR` (also for `rolled_back`) |
 * | `INSTALL_ABORTED` | `canceled` | `INSTALL_ABORTED` |
 * | `INSTALLED_VERSION` | `committed` | `INSTALLED_VERSION` (also for `idle`) |
 *
 * Near-equivalents (documented, tested): `idle` → `INSTALLED_VERSION` → `committed`;
 * `verify_failed` → `DOWNLOAD_ERROR` → `download_failed`; `rolled_back` → `INSTALL_ERROR` →
 * `install_failed`. `checking`, `verifying`, `rolling_back` have no wire value.
 */
export const statusMapping: StatusMapping<OtauStatusCode> = {
  system: 'exosite',
  toCanonical: {
    INIT: 'available',
    TEST: 'available',
    TEST_STEP: 'available',
    TEST_SUCCESS: 'available',
    TEST_ERROR: 'check_failed',
    DOWNLOAD: 'downloading',
    DOWNLOAD_STEP: 'downloading',
    DOWNLOAD_SUCCESS: 'downloaded',
    DOWNLOAD_ERROR: 'download_failed',
    INSTALL: 'installing',
    INSTALL_STEP: 'installing',
    INSTALL_SUCCESS: 'installed',
    INSTALL_ERROR: 'install_failed',
    INSTALL_ABORTED: 'canceled',
    INSTALLED_VERSION: 'committed',
  },
  fromCanonical: {
    idle: 'INSTALLED_VERSION',
    checking: null,
    available: 'INIT',
    downloading: 'DOWNLOAD',
    downloaded: 'DOWNLOAD_SUCCESS',
    verifying: null,
    installing: 'INSTALL',
    installed: 'INSTALL_SUCCESS',
    committed: 'INSTALLED_VERSION',
    rolling_back: null,
    check_failed: 'TEST_ERROR',
    download_failed: 'DOWNLOAD_ERROR',
    verify_failed: 'DOWNLOAD_ERROR',
    install_failed: 'INSTALL_ERROR',
    rolled_back: 'INSTALL_ERROR',
    canceled: 'INSTALL_ABORTED',
  },
  notes: {
    idle: 'INSTALLED_VERSION with the installed version (sent at every boot); read back as committed unless statusToCanonical knows no update is followed',
    checking: 'Exosite has no checking status: the device polls or waits for config_otau silently',
    verifying: 'Exosite manifests carry no digest and the protocol has no post-download verification status',
    rolling_back: 'Exosite has no rollback status; the result is reported as INSTALL_ERROR',
    verify_failed:
      'reported as DOWNLOAD_ERROR (the payload could not be obtained intact); read back as download_failed',
    rolled_back:
      'reported as INSTALL_ERROR with the reason; the next INSTALLED_VERSION names the version still running',
  },
};

/** The `_STEP` status of each phase, for progress within a state. */
const STEP: Partial<Record<OtauStatusCode, OtauStatusCode>> = {
  INIT: 'TEST_STEP',
  DOWNLOAD: 'DOWNLOAD_STEP',
  INSTALL: 'INSTALL_STEP',
};

const STEP_VERB: Partial<Record<OtauStatusCode, string>> = {
  DOWNLOAD_STEP: 'Downloading',
  INSTALL_STEP: 'Installing',
  TEST_STEP: 'Checking',
};

/** Options of {@link statusFromCanonical}. */
export interface StatusFromCanonicalOptions {
  /** Message to send; wins over the step and error messages. */
  message?: string;
  /**
   * Which file of how many (1-based) a step is about: sends the phase's `_STEP` status with
   * `Downloading file <index> of <count>` (the wording of Exosite's examples), or `Installing …`.
   */
  step?: { index: number; count: number };
  /**
   * Send the message as given. By default (hardened) secret query parameters of URLs in it are
   * masked (`redactUrl`) and it is cut to {@link LIMITS.messageLength} characters.
   * @default false
   */
  strictCompat?: boolean;
}

/** What {@link statusFromCanonical} needs of an `UpdateStatus`. */
export type CanonicalStatusInput = Pick<UpdateStatus, 'state' | 'version'> &
  Partial<Pick<UpdateStatus, 'previous' | 'error'>>;

/**
 * The `otau_in` message for a canonical status, or `null` when Exosite cannot express the state
 * (`checking`, `verifying`, `rolling_back`): then the device sends nothing.
 *
 * A repeated state (`previous === state`) or a `step` sends the phase's `_STEP` status. A failure
 * carries the error's message. A `null` version is sent as `""`.
 *
 * @example
 * ```ts
 * statusFromCanonical({ state: 'idle', version: '2.0.5-stable' })
 * // { version: '2.0.5-stable', status: 'INSTALLED_VERSION', message: '' }
 * ```
 */
export function statusFromCanonical(
  status: CanonicalStatusInput,
  options: StatusFromCanonicalOptions = {},
): OtauStatus | null {
  let code = statusMapping.fromCanonical[status.state];
  if (code === null) return null;
  const stepCode = STEP[code];
  const wantsStep =
    options.step !== undefined || (status.previous != null && status.previous === status.state);
  if (stepCode !== undefined && wantsStep) code = stepCode;
  let message = options.message;
  if (message === undefined && options.step !== undefined && STEP_VERB[code] !== undefined) {
    const { index, count } = options.step;
    message = `${STEP_VERB[code]} file ${index} of ${count}`;
  }
  if (message === undefined && status.error != null) message = status.error.message;
  message ??= '';
  if (options.strictCompat !== true)
    message = redactUrlWith(message, ownSecrets).slice(0, LIMITS.messageLength);
  return parseWith(
    OtauStatusSchema,
    { version: status.version ?? '', status: code, message },
    'Exosite otau_in status',
  );
}

/**
 * A status message for any of the 15 codes, for device code that reports Exosite's finer steps
 * (`TEST`, `TEST_SUCCESS`, …) the canonical machine has no state for.
 *
 * @example
 * ```ts
 * otauStatus('1.2.4', 'TEST_ERROR', 'Not enough memory (required: 1024MB, available: 512MB).')
 * ```
 */
export function otauStatus(version: string, status: OtauStatusCode, message = ''): OtauStatus {
  return parseWith(OtauStatusSchema, { version, status, message }, 'Exosite otau_in status');
}

/** What the cloud side knows when it reads a status. */
export interface StatusContext {
  /**
   * Version of the update being followed for this device, `null` when none is. With it,
   * `INSTALLED_VERSION` of that version reads `committed` and of any other version (or with
   * `null`) reads `idle`, the boot report. Omitted: the static table (`committed`).
   */
  updateVersion?: string | null;
  /**
   * The state the follower is in. Refines the near-equivalents: `DOWNLOAD_ERROR` while
   * `verifying` reads `verify_failed`; `INSTALL_ERROR` while `rolling_back` reads `rolled_back`;
   * `INSTALL_ABORTED` once installing began reads `install_failed` (an install cannot be
   * canceled half way).
   */
  current?: UpdateState;
}

/** The fields of an `UpdateStatus` an `otau_in` message gives a tracker. */
export interface CanonicalStatusFields {
  state: UpdateState;
  /** The message's version; `null` when it was empty. */
  version: string | null;
  /** The update id (Exosite identifies an OTAU by its version; `null` for a boot report). */
  updateId: string | null;
  /** For failures: an error with the device's message. */
  error: SerializedOtaError | null;
  /** The device's message, `null` when empty. */
  message: string | null;
}

const INSTALL_STARTED: ReadonlySet<UpdateState> = new Set(['installing', 'installed', 'rolling_back']);

/**
 * The canonical reading of an `otau_in` message (see {@link StatusContext} for what context
 * changes).
 *
 * @example
 * ```ts
 * const fields = statusToCanonical(decodeStatus(payload), { updateVersion: '1.0.2' })
 * await tracker.ingest({ machineId, previous: null, at: new Date().toISOString(), ...fields })
 * ```
 */
export function statusToCanonical(message: OtauStatus, context: StatusContext = {}): CanonicalStatusFields {
  let state = statusMapping.toCanonical[message.status];
  const version = message.version === '' ? null : message.version;
  const current = context.current;
  if (message.status === 'INSTALLED_VERSION' && context.updateVersion !== undefined) {
    state = context.updateVersion !== null && version === context.updateVersion ? 'committed' : 'idle';
  } else if (message.status === 'DOWNLOAD_ERROR' && current === 'verifying') {
    state = 'verify_failed';
  } else if (message.status === 'INSTALL_ERROR' && current === 'rolling_back') {
    state = 'rolled_back';
  } else if (message.status === 'INSTALL_ABORTED' && current !== undefined && INSTALL_STARTED.has(current)) {
    state = 'install_failed';
  }
  const text = message.message === undefined || message.message === '' ? null : message.message;
  const code = isFailureState(state) ? FAILURE_ERROR_CODES[state] : undefined;
  const error: SerializedOtaError | null =
    code === undefined
      ? null
      : { name: 'OtaError', code, message: text ?? `Device reported ${message.status}`, retryable: false };
  return { state, version, updateId: state === 'idle' ? null : version, error, message: text };
}

/**
 * The idempotency rule (docs/protocols/exosite.md, "Device flow"): a manifest delivered again (Murano
 * re-syncs resources at every MQTT connect) is not installed again when the last status the device sent was
 * `INSTALLED_VERSION` for that same version. Versions compare as opaque strings.
 */
export function isAlreadyInstalled(
  manifest: { version: string },
  lastSent: OtauStatus | null | undefined,
): boolean {
  return lastSent?.status === 'INSTALLED_VERSION' && lastSent.version === manifest.version;
}
