/**
 * The `heartbeat.ota.service` status payload: decode it off NATS, encode it, and translate it to
 * and from the canonical {@link UpdateStatus} a machine reports or a tracker ingests.
 *
 * @module
 */
import { ManifestError, type OtaErrorCode, type SerializedOtaError } from '../../core/errors.js';
import { redactUrlWith } from '../../core/redact.js';
import type { UpdateState } from '../../core/states.js';
import type { UpdateStatus } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import { decodeWire, type WireInput } from '../../core/wire.js';
import { LIMITS } from './limits.js';
import { statusMapping } from './mapping.js';
import {
  CompatStatusMessageSchema,
  type OtaStatus,
  type StatusMessage,
  type StatusMessageInput,
  StatusMessageSchema,
} from './schemas.js';
import { ownSecrets } from './secrets.js';
import { OTA_STATUS_SUBJECT } from './subjects.js';
import { CONTROL_CHARACTERS } from './text.js';

const WHAT = 'Connhex OTA status';

export interface StatusOptions {
  /**
   * Accept any strings in the version and `last_checked` fields, as a consumer of the real addon
   * must while their formats are unconfirmed. By default (hardened) versions are bounded and free
   * of control characters and `last_checked` is `''` or RFC 3339.
   * @default false
   */
  strictCompat?: boolean;
}

/**
 * Decodes a `heartbeat.ota.service` payload (bytes or text straight off NATS, or parsed JSON).
 * The byte limit ({@link LIMITS}.maxStatusBytes) is checked before parsing.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming the failing field and what was expected.
 *
 * @example
 * ```ts
 * nc.subscribe(connhex.OTA_STATUS_SUBJECT, { callback: (_err, msg) => {
 *   const status = connhex.decodeStatusMessage(msg.data) // { status: 'downloading', ... }
 * } })
 * ```
 */
export function decodeStatusMessage(input: WireInput, options: StatusOptions = {}): StatusMessage {
  const schema = options.strictCompat ? CompatStatusMessageSchema : StatusMessageSchema;
  return decodeWire(schema, input, { what: WHAT, maxBytes: LIMITS.maxStatusBytes });
}

/** Like {@link decodeStatusMessage}, returning a result instead of throwing. */
export function safeDecodeStatusMessage(
  input: WireInput,
  options: StatusOptions = {},
): { success: true; data: StatusMessage } | { success: false; error: ManifestError } {
  try {
    return { success: true, data: decodeStatusMessage(input, options) };
  } catch (error) {
    if (error instanceof ManifestError) return { success: false, error };
    throw error;
  }
}

/**
 * Encodes a status payload as compact JSON, with all five fields in the documented order.
 * The message is validated with the hardened schema first.
 *
 * @throws ManifestError when a field is invalid or the payload exceeds {@link LIMITS}.maxStatusBytes.
 */
export function encodeStatusMessage(message: StatusMessageInput): string {
  const valid = parseWith(StatusMessageSchema, message, WHAT);
  const text = JSON.stringify({
    current_version: valid.current_version,
    latest_version: valid.latest_version,
    status: valid.status,
    error: valid.error,
    last_checked: valid.last_checked,
  });
  if (new TextEncoder().encode(text).length > LIMITS.maxStatusBytes) {
    throw new ManifestError(WHAT, [{ path: '', expected: `at most ${LIMITS.maxStatusBytes} bytes` }]);
  }
  return text;
}

/** A status ready to publish: `nc.publish(envelope.subject, envelope.payload)`. */
export interface StatusEnvelope {
  subject: typeof OTA_STATUS_SUBJECT;
  payload: string;
}

/** Encodes `message` and pairs it with the `heartbeat.ota.service` subject. */
export function statusEnvelope(message: StatusMessageInput): StatusEnvelope {
  return { subject: OTA_STATUS_SUBJECT, payload: encodeStatusMessage(message) };
}

/** What the addon knows beyond one transition, needed to fill the five fields. */
export interface WireStatusContext {
  /** The version installed before this status (`''` when unknown). */
  currentVersion: string;
  /** The version the last check found, used when the status carries no version. */
  latestVersion?: string;
  /** When the last check ran (RFC 3339); `''` or absent before the first check. */
  lastChecked?: string;
}

/** The fields of an {@link UpdateStatus} the encoder reads. */
export type CanonicalStatusInput = Pick<UpdateStatus, 'state' | 'previous' | 'version' | 'at'> & {
  error?: SerializedOtaError | null | undefined;
};

// A failure word must say what failed (C7: `error` non-empty); used when no error was given.
const DEFAULT_ERRORS: Readonly<Partial<Record<UpdateState, string>>> = {
  check_failed: 'update check failed',
  download_failed: 'download failed',
  verify_failed: 'downloaded release failed its integrity check',
  install_failed: 'update.sh failed',
  rolled_back: 'update rolled back',
  canceled: 'update canceled',
};

/** The failure word of the phase an update was in when it was canceled. */
function canceledWord(previous: UpdateState | null): OtaStatus | null {
  switch (previous) {
    case 'checking':
    case 'available':
      return 'check_failed';
    case 'downloading':
    case 'downloaded':
    case 'verifying':
      return 'download_failed';
    case 'installing':
    case 'installed':
    case 'rolling_back':
      return 'update_failed';
    default:
      return null;
  }
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;

/**
 * Makes an error text safe to broadcast on the bus: URLs lose their credentials (an error may
 * quote a download URL with a token), control characters become spaces, and the text is cut to
 * {@link LIMITS}.maxErrorLength.
 */
export function sanitizeErrorText(text: string): string {
  let safe = text
    .replace(URL_IN_TEXT, (url) => redactUrlWith(url, ownSecrets))
    .replace(CONTROL_CHARACTERS, ' ');
  if (safe.length > LIMITS.maxErrorLength) safe = `${safe.slice(0, LIMITS.maxErrorLength - 1)}…`;
  return safe;
}

/**
 * The status payload for one canonical transition, or `null` when Connhex has no word for the
 * state (see {@link statusMapping}; the heartbeat then keeps repeating the last payload).
 *
 * - `latest_version` is the update's version (else `context.latestVersion`);
 * - `current_version` is `context.currentVersion`, or the update's version once `committed`;
 * - `last_checked` is the transition time when a check just ended (`available`, `check_failed`),
 *   else `context.lastChecked`;
 * - `error` is set for every failure word (a default text when the status has none), after
 *   {@link sanitizeErrorText}; a canceled update reports the failure word of its phase.
 *
 * @throws ManifestError when a version or timestamp does not fit the status schema.
 *
 * @example
 * ```ts
 * machine.on('transition', (status) => {
 *   const wire = connhex.toWireStatus(status, { currentVersion: '0.0.2' })
 *   if (wire) nc.publish(connhex.OTA_STATUS_SUBJECT, connhex.encodeStatusMessage(wire))
 * })
 * ```
 */
export function toWireStatus(status: CanonicalStatusInput, context: WireStatusContext): StatusMessage | null {
  const word =
    status.state === 'canceled' ? canceledWord(status.previous) : statusMapping.fromCanonical[status.state];
  if (word === null) return null;
  const failed = word === 'check_failed' || word === 'download_failed' || word === 'update_failed';
  const checkEnded = status.state === 'available' || status.state === 'check_failed';
  const error = failed
    ? sanitizeErrorText(status.error?.message || DEFAULT_ERRORS[status.state] || `${word.replace('_', ' ')}`)
    : '';
  return parseWith(
    StatusMessageSchema,
    {
      current_version:
        status.state === 'committed' ? (status.version ?? context.currentVersion) : context.currentVersion,
      latest_version: status.version ?? context.latestVersion ?? '',
      status: word,
      error,
      last_checked: checkEnded ? status.at : (context.lastChecked ?? ''),
    },
    WHAT,
  );
}

/** The canonical reading of one status payload. */
export interface CanonicalStatusFields {
  state: UpdateState;
  /** The version the update is about: `latest_version`, or `current_version` once updated. */
  version: string | null;
  /** The version the device runs (`current_version`), `null` when empty. */
  currentVersion: string | null;
  /** `last_checked`, `null` when empty. */
  lastChecked: string | null;
  /** For the three failure words: the `error` text as a serialised otakit error. */
  error: SerializedOtaError | null;
}

export interface FromWireOptions {
  /**
   * The state the tracker had before this payload. When given (even `null`), `updated` reads as
   * `committed` only while an update was under way; after a check that found nothing, or at the
   * periodic heartbeat, it means "up to date" and reads as `idle`. Left out, the static
   * {@link statusMapping} applies (`updated` → `committed`).
   */
  previous?: UpdateState | null;
}

const UNDER_WAY: ReadonlySet<UpdateState> = new Set([
  'available',
  'downloading',
  'downloaded',
  'verifying',
  'installing',
  'installed',
  'rolling_back',
]);

const FAILURE_CODES: Readonly<Partial<Record<OtaStatus, { code: OtaErrorCode; retryable: boolean }>>> = {
  // The addon retries checks and downloads at the next check; a failed update.sh stays failed.
  check_failed: { code: 'CHECK', retryable: true },
  download_failed: { code: 'DOWNLOAD', retryable: true },
  update_failed: { code: 'INSTALL', retryable: false },
};

/**
 * Reads a status payload as canonical fields (the inverse of {@link toWireStatus}).
 *
 * @example
 * ```ts
 * const fields = connhex.fromWireStatus(connhex.decodeStatusMessage(msg.data), { previous: 'checking' })
 * ```
 */
export function fromWireStatus(message: StatusMessage, options: FromWireOptions = {}): CanonicalStatusFields {
  let state = statusMapping.toCanonical[message.status];
  if (
    message.status === 'updated' &&
    options.previous !== undefined &&
    (options.previous === null || !UNDER_WAY.has(options.previous))
  ) {
    state = 'idle';
  }
  // The addon re-checks on its interval even while an update is under way; that heartbeat says
  // nothing new about the update, so it reads as the state the update is in.
  if (message.status === 'checking' && options.previous != null && UNDER_WAY.has(options.previous)) {
    state = options.previous;
  }
  const failure = FAILURE_CODES[message.status];
  const version =
    message.status === 'updated'
      ? message.latest_version || message.current_version || null
      : message.latest_version || null;
  return {
    state,
    version,
    currentVersion: message.current_version || null,
    lastChecked: message.last_checked || null,
    error: failure
      ? {
          name: 'OtaError',
          code: failure.code,
          message: message.error || message.status.replace('_', ' '),
          retryable: failure.retryable,
        }
      : null,
  };
}

/**
 * Builds the {@link UpdateStatus} a tracker ingests from one payload. Connhex has no update id:
 * the release version stands in for it (as in the canonical manifest `toCanonical` builds).
 *
 * @param options.at When the payload was received (the payload carries no time of its own).
 */
export function toUpdateStatus(
  message: StatusMessage,
  options: { machineId: string; at: string; previous: UpdateState | null },
): UpdateStatus {
  const fields = fromWireStatus(message, { previous: options.previous });
  return {
    machineId: options.machineId,
    updateId: fields.version,
    version: fields.version,
    state: fields.state,
    previous: options.previous,
    at: options.at,
    error: fields.error,
  };
}
