/**
 * `fw_state` (and `sw_state`) against the canonical states, and the telemetry a device publishes
 * for each transition: `{"fw_state":"DOWNLOADING"}`, `{"fw_state":"FAILED","fw_error":"…"}`,
 * `{"current_fw_title":"X","current_fw_version":"1.2","fw_state":"UPDATED"}`.
 *
 * ThingsBoard has one failure value, `FAILED`, with free text in `fw_error`. otakit writes
 * `fw_error` as `<canonical state>: <error code>: <message>` so another otakit reading it recovers
 * the exact failure state; a plain text from another client falls back to the phase the update was
 * in (the previous state), then to `install_failed`.
 *
 * @module
 */
import {
  ManifestError,
  OTA_ERROR_CODES,
  type OtaErrorCode,
  type SerializedOtaError,
} from '../../core/errors.js';
import {
  FAILURE_ERROR_CODES,
  FAILURE_STATES,
  type FailureState,
  failureStateFor,
  isActiveState,
  type UpdateState,
} from '../../core/states.js';
import type { UpdateStatus } from '../../core/status.js';
import type { StatusMapping } from '../conversion.js';
import { attributeKey, currentTelemetryKey, type FwState, type PackageType, PREFIX } from './keys.js';
import { LIMITS } from './limits.js';
import type { Telemetry } from './schemas.js';

/**
 * `fw_state` ⇄ canonical states (the table in docs/protocols/thingsBoard.md). Read back through `toCanonical`, a few
 * canonical states come out as a near-equivalent; `notes` says which and why.
 */
export const statusMapping: StatusMapping<FwState> = {
  system: 'thingsboard',
  toCanonical: {
    QUEUED: 'available',
    INITIATED: 'available',
    DOWNLOADING: 'downloading',
    DOWNLOADED: 'downloaded',
    VERIFIED: 'downloaded',
    UPDATING: 'installing',
    UPDATED: 'committed',
    FAILED: 'install_failed',
  },
  fromCanonical: {
    idle: null,
    checking: null,
    available: 'INITIATED',
    downloading: 'DOWNLOADING',
    downloaded: 'DOWNLOADED',
    verifying: null,
    installing: 'UPDATING',
    installed: null,
    committed: 'UPDATED',
    rolling_back: null,
    check_failed: 'FAILED',
    download_failed: 'FAILED',
    verify_failed: 'FAILED',
    install_failed: 'FAILED',
    rolled_back: 'FAILED',
    canceled: 'FAILED',
  },
  notes: {
    idle: 'the steady state is reported once, as UPDATED with current_fw_*; idle itself sends nothing',
    checking: 'a check is an attribute request, not a state',
    available:
      'QUEUED and INITIATED are written by the server; a device re-asserting INITIATED changes nothing',
    verifying:
      'ThingsBoard reports VERIFIED only once verification passed: otakit sends it on verifying → installing; VERIFIED reads back as downloaded',
    installed: 'ThingsBoard has no awaiting-reboot state: the device stays UPDATING until UPDATED',
    rolling_back: 'ThingsBoard has no rollback states',
    check_failed:
      'FAILED; fw_error names the state, else it reads back as install_failed (or from the previous state)',
    download_failed:
      'FAILED; fw_error names the state, else it reads back as install_failed (or from the previous state)',
    verify_failed:
      'FAILED; fw_error names the state, else it reads back as install_failed (or from the previous state)',
    rolled_back:
      'FAILED; fw_error names the state, else it reads back as install_failed (or from the previous state)',
    canceled: 'ThingsBoard has no cancel: FAILED, with fw_error naming the state',
  },
};

function stateKey(type: PackageType): `${(typeof PREFIX)[PackageType]}_state` {
  return attributeKey(type, 'state');
}

function errorKey(type: PackageType): string {
  return `${PREFIX[type]}_error`;
}

/**
 * The `fw_error` text otakit writes for a failure: `<state>: <code>: <message>`, cut to
 * `LIMITS.errorLength` characters. The message is the error's own, already free of secrets.
 */
export function formatFwError(state: UpdateState, error?: SerializedOtaError | null): string {
  const text = error ? `${state}: ${error.code}: ${error.message}` : state;
  return text.length <= LIMITS.errorLength ? text : `${text.slice(0, LIMITS.errorLength - 1)}…`;
}

const FW_ERROR = new RegExp(`^(${FAILURE_STATES.join('|')})(?:: (?:([A-Z_]+): )?([\\s\\S]*))?$`);
const CODES: ReadonlySet<string> = new Set(OTA_ERROR_CODES);

/** Reads an `fw_error` text; `state` and `code` only when otakit wrote it. */
export function parseFwError(text: string): { state?: FailureState; code?: OtaErrorCode; message: string } {
  if (typeof text !== 'string') {
    throw new ManifestError('ThingsBoard fw_error', [{ path: '', expected: 'the fw_error text (a string)' }]);
  }
  const match = FW_ERROR.exec(text);
  if (match === null) return { message: text };
  const state = match[1] as FailureState;
  const code = match[2];
  if (code !== undefined && CODES.has(code))
    return { state, code: code as OtaErrorCode, message: match[3] ?? '' };
  const rest = code === undefined ? (match[3] ?? '') : `${code}: ${match[3] ?? ''}`;
  return { state, message: rest };
}

export interface TelemetryOptions {
  /** @default 'firmware' */
  type?: PackageType;
  /** The package title, reported as `current_fw_title` once the update is committed. */
  title?: string;
}

/**
 * The telemetry a device publishes for one of its transitions (publish each on `TELEMETRY_TOPIC`,
 * in order). Usually one message; none for states ThingsBoard has no value for; two on
 * `verifying → installing` (`VERIFIED`, then `UPDATING`), which is when verification has passed.
 * So an update reports DOWNLOADING, DOWNLOADED, VERIFIED, UPDATING, UPDATED (vector T1).
 *
 * @example
 * ```ts
 * machine.on('transition', () => {
 *   for (const message of thingsBoard.statusToTelemetry(status, { title: 'f' }))
 *     client.publish(thingsBoard.TELEMETRY_TOPIC, JSON.stringify(message))
 * })
 * ```
 */
export function statusToTelemetry(
  status: Pick<UpdateStatus, 'state' | 'previous' | 'version'> & {
    error?: SerializedOtaError | null | undefined;
  },
  options: TelemetryOptions = {},
): Telemetry[] {
  const type = options.type ?? 'firmware';
  const out: Telemetry[] = [];
  if (status.state === 'installing' && status.previous === 'verifying') {
    out.push({ [stateKey(type)]: 'VERIFIED' } as Telemetry);
  }
  const wire = statusMapping.fromCanonical[status.state];
  if (wire === null) return out;
  const message: Record<string, unknown> = {};
  if (wire === 'UPDATED') {
    if (options.title !== undefined) message[currentTelemetryKey(type, 'title')] = options.title;
    if (status.version !== null) message[currentTelemetryKey(type, 'version')] = status.version;
  }
  message[stateKey(type)] = wire;
  if (wire === 'FAILED') message[errorKey(type)] = formatFwError(status.state, status.error);
  out.push(message as Telemetry);
  return out;
}

/** What a tracker learns from one telemetry object about one package type. */
export interface TelemetryStatus {
  /** The raw `fw_state`, or `null` when the message had none (e.g. a boot report). */
  fwState: FwState | null;
  /** The canonical state, or `null` without `fw_state`. */
  state: UpdateState | null;
  /** For `FAILED`: the error, rebuilt from `fw_error`. */
  error: SerializedOtaError | null;
  /** `current_fw_title` / `current_fw_version`, when reported. */
  current: { title: string | null; version: string | null } | null;
}

export interface TelemetryStatusOptions {
  /** @default 'firmware' */
  type?: PackageType;
  /**
   * The state the tracker had before this message: decides which failure a bare `FAILED` is
   * (`downloading` → `download_failed`, …) when `fw_error` does not name it.
   */
  previous?: UpdateState | null;
}

/**
 * Reads one telemetry object for one package type: the canonical state, the error of a
 * `FAILED`, and the current title/version. `null` when it says nothing about that package.
 */
export function telemetryToStatus(
  values: Telemetry,
  options: TelemetryStatusOptions = {},
): TelemetryStatus | null {
  const type = options.type ?? 'firmware';
  const source = values as Record<string, unknown>;
  const fwState = (source[stateKey(type)] as FwState | undefined) ?? null;
  const title = (source[currentTelemetryKey(type, 'title')] as string | undefined) ?? null;
  const version = (source[currentTelemetryKey(type, 'version')] as string | undefined) ?? null;
  const current = title === null && version === null ? null : { title, version };
  if (fwState === null) return current === null ? null : { fwState, state: null, error: null, current };
  let state: UpdateState = statusMapping.toCanonical[fwState];
  let error: SerializedOtaError | null = null;
  if (fwState === 'FAILED') {
    const text = source[errorKey(type)];
    const parsed = typeof text === 'string' ? parseFwError(text) : { message: '' };
    const previous = options.previous ?? null;
    const failure: FailureState =
      parsed.state ??
      (previous !== null && isActiveState(previous) ? failureStateFor(previous) : 'install_failed');
    state = failure;
    error = {
      name: 'OtaError',
      code: parsed.code ?? FAILURE_ERROR_CODES[failure],
      message: typeof text === 'string' ? parsed.message : 'ThingsBoard reported FAILED without fw_error',
      retryable: false,
    };
  }
  return { fwState, state, error, current };
}
