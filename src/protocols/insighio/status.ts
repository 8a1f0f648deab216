/**
 * insigh.io's status vocabulary (`e` = 0 pending, 1 applied, 2 failed, 3 canceled, plus the
 * free-text `m`) against otakit's canonical states, both ways.
 *
 * @module
 */
import type { SerializedOtaError } from '../../core/errors.js';
import { FAILURE_ERROR_CODES, type UpdateState } from '../../core/states.js';
import type { UpdateStatus } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import type { StatusMapping } from '../conversion.js';
import { EVENTS, type OtaEvent, type OtaStatus, OtaStatusSchema } from './schemas.js';

/**
 * The mapping table (docs/protocols/insighIo.md). insigh.io has no progress messages: a device says
 * nothing between receiving the order and reporting its outcome, so every intermediate state
 * maps to `null`. All failures share `e` = 2; {@link FAILURE_MESSAGES} tells them apart through
 * `m`, and a bare `e` = 2 reads as `install_failed` (the docs: "2 if the OTA has failed" to apply).
 */
export const statusMapping: StatusMapping<OtaEvent> = {
  system: 'insighio',
  toCanonical: {
    [EVENTS.pending]: 'available',
    [EVENTS.applied]: 'committed',
    [EVENTS.failed]: 'install_failed',
    [EVENTS.canceled]: 'canceled',
  },
  fromCanonical: {
    idle: null,
    checking: null,
    available: EVENTS.pending,
    downloading: null,
    downloaded: null,
    verifying: null,
    installing: null,
    installed: null,
    committed: EVENTS.applied,
    rolling_back: null,
    check_failed: EVENTS.failed,
    download_failed: EVENTS.failed,
    verify_failed: EVENTS.failed,
    install_failed: EVENTS.failed,
    rolled_back: EVENTS.failed,
    canceled: EVENTS.canceled,
  },
  notes: {
    idle: 'no message: an idle device has no order (the retained topic is empty)',
    checking: 'no message: checking is subscribing to the control topic',
    available:
      'e=0 is the order itself, published retained by the console (encodeOrder), never a device status',
    downloading: 'no progress messages in insigh.io',
    downloaded: 'no progress messages in insigh.io',
    verifying: 'no progress messages (and nothing to verify but the size)',
    installing: 'no progress messages in insigh.io',
    installed:
      'not reported: the reference sends e=1 right after extracting, before its reset; otakit sends it at committed, after the health check',
    rolling_back: 'no message; the outcome is reported as e=2 "rolled back"',
    check_failed: 'e=2, m "invalid order" (the reference ignores an invalid order silently)',
    download_failed: 'e=2, m "can not download" ("not enough space" also reads as download_failed)',
    verify_failed: 'e=2, m "can not verify"',
    install_failed: 'e=2, m "can not apply"; a bare e=2 or an unknown m also reads as install_failed',
    rolled_back: 'e=2, m "rolled back"',
  },
};

/** The canonical failure states insigh.io reports as `e` = 2. */
export type ReportedFailure =
  | 'check_failed'
  | 'download_failed'
  | 'verify_failed'
  | 'install_failed'
  | 'rolled_back';

/**
 * The `m` sent with `e` = 2 for each failure state. `can not download` and `can not apply` are
 * the firmware's own words; the others are otakit's, chosen in the same style.
 */
export const FAILURE_MESSAGES = {
  check_failed: 'invalid order',
  download_failed: 'can not download',
  verify_failed: 'can not verify',
  install_failed: 'can not apply',
  rolled_back: 'rolled back',
} as const satisfies Record<ReportedFailure, string>;

/** Messages recognised when reading `e` = 2 (case and surrounding space ignored). */
const MESSAGE_STATES: ReadonlyMap<string, ReportedFailure> = new Map<string, ReportedFailure>([
  ...Object.entries(FAILURE_MESSAGES).map(([state, message]) => [message, state as ReportedFailure] as const),
  // The firmware's space check runs inside its download step, and is followed by "can not download".
  ['not enough space', 'download_failed'],
]);

/** The part of an {@link UpdateStatus} the wire status is made from. */
export type ReportableStatus = Pick<UpdateStatus, 'state' | 'updateId'>;

/**
 * The status message a device publishes for a canonical status, or `null` when insigh.io has
 * nothing to say for that state (see {@link statusMapping} notes) or the update id is unknown.
 * `updateId` is the order's file id (the canonical manifest id, see `toCanonical`).
 *
 * @param options.message overrides `m` (e.g. `not enough space`); failures default to
 * {@link FAILURE_MESSAGES}, other events send no `m`.
 * @throws ManifestError when `updateId` is not a valid file id or the message is too long.
 *
 * @example
 * ```ts
 * const wire = insighIo.statusToWire({ state: 'download_failed', updateId: 'fa8884d2' })
 * // { event: 2, fileId: 'fa8884d2', message: 'can not download' }
 * ```
 */
export function statusToWire(status: ReportableStatus, options: { message?: string } = {}): OtaStatus | null {
  const event = statusMapping.fromCanonical[status.state];
  if (event === null || event === EVENTS.pending || status.updateId === null) return null;
  const message =
    options.message ??
    (event === EVENTS.failed ? FAILURE_MESSAGES[status.state as ReportedFailure] : undefined);
  const candidate =
    message === undefined ? { event, fileId: status.updateId } : { event, fileId: status.updateId, message };
  return parseWith(OtaStatusSchema, candidate, 'insigh.io OTA status');
}

/** What a wire status says, in the terms of an {@link UpdateStatus}. */
export interface WireStatusFields {
  /** The file id: insigh.io's update id. */
  updateId: string;
  /** The file id again: insigh.io orders carry no version (see `toCanonical`). */
  version: string;
  state: UpdateState;
  /** For `e` = 2: the failure, with `m` as its message. Otherwise `null`. */
  error: SerializedOtaError | null;
}

/**
 * Reads a device status into the fields of an {@link UpdateStatus}; add `machineId` (the device
 * id of the topic), `at` (receipt time) and `previous` to ingest it into a tracker.
 *
 * @example
 * ```ts
 * const message = insighIo.decodeMessage(payload)
 * if (message.kind === 'status') {
 *   const { deviceId } = insighIo.parseOtaTopic(topic)
 *   await tracker.ingest({ machineId: deviceId, at: new Date().toISOString(), previous: null,
 *     ...insighIo.statusFromWire(message.status) })
 * }
 * ```
 */
export function statusFromWire(status: OtaStatus): WireStatusFields {
  const base = { updateId: status.fileId, version: status.fileId };
  if (status.event !== EVENTS.failed) {
    return { ...base, state: statusMapping.toCanonical[status.event], error: null };
  }
  const state = failureOf(status.message);
  return {
    ...base,
    state,
    error: {
      name: 'OtaError',
      code: FAILURE_ERROR_CODES[state],
      message: status.message ?? 'The device reported a failure without a message',
      retryable: false,
    },
  };
}

/** The failure state an `m` stands for; unknown or absent messages read as `install_failed`. */
export function failureOf(message: string | undefined): ReportedFailure {
  if (message === undefined) return 'install_failed';
  return MESSAGE_STATES.get(message.trim().toLowerCase()) ?? 'install_failed';
}

/**
 * Whether reporting `state` also clears the retained order, as the firmware does: after success,
 * an apply failure (no retry) and a cancel. After a download, verify or check failure the order
 * stays, so the device tries again at its next wake (the reference keeps it after
 * `can not download`).
 */
export function clearsOrder(state: UpdateState): boolean {
  return (
    state === 'committed' || state === 'install_failed' || state === 'rolled_back' || state === 'canceled'
  );
}
