/**
 * Turning a status the tracker refused into an anomaly a dashboard can sort: which kind, which
 * states, which updates. Reads the refused status defensively: it may be anything a device sent.
 *
 * @module
 */
import type { OtaError } from '../../core/errors.js';
import { isActiveState, isUpdateState, statesBetween, type UpdateState } from '../../core/states.js';
import type { MachineRecord } from '../../machine/record.js';
import type { FleetAnomaly, FleetAnomalyKind } from './types.js';

/** The longest text taken from a status into an anomaly (ids, times). */
const FIELD_LIMIT = 128;
/** The longest error message kept (a ManifestError lists at most five issues anyway). */
const MESSAGE_LIMIT = 500;

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value.slice(0, FIELD_LIMIT) : null;
}

/** Whether the error is a refusal of the status's shape rather than of its transition. */
function isShapeRefusal(error: OtaError): boolean {
  if (error.code === 'MANIFEST_INVALID') return true;
  const transition = error as { from?: unknown; to?: unknown };
  return transition.from === undefined || transition.to === undefined;
}

function kindOf(
  error: OtaError,
  from: UpdateState,
  tracked: string | null,
  status: unknown,
): FleetAnomalyKind {
  if (isShapeRefusal(error)) return 'invalid_status';
  const to = field(status, 'state');
  const reportedUpdate = field(status, 'updateId');
  // The tracker's own test for "the same update" (a device that has not named it yet adopts it).
  const sameUpdate = reportedUpdate === tracked || (tracked === null && isActiveState(from));
  if (!sameUpdate && isActiveState(from)) return 'update_mismatch';
  // A state the device reported earlier in this update (the tracked one follows from it): a late
  // or replayed message, not a device breaking the rules.
  if (isUpdateState(to) && to !== from && statesBetween(to, from) !== undefined) return 'out_of_order';
  return 'illegal_transition';
}

/** What the fleet records for a refused status. */
export function anomalyFor(options: {
  deviceId: string;
  error: OtaError;
  record: MachineRecord | undefined;
  status: unknown;
  protocol: string | null;
  at: string;
}): FleetAnomaly {
  const { error, record, status } = options;
  const from = record?.state ?? 'idle';
  const tracked = record?.update?.id ?? null;
  const to = field(status, 'state');
  return {
    deviceId: options.deviceId,
    kind: kindOf(error, from, tracked, status),
    from,
    to: isUpdateState(to) ? to : null,
    updateId: tracked,
    reportedUpdateId: text(field(status, 'updateId')),
    at: options.at,
    reportedAt: text(field(status, 'at')),
    protocol: options.protocol,
    error: {
      name: error.name,
      code: error.code,
      message: error.message.slice(0, MESSAGE_LIMIT),
      retryable: error.retryable,
    },
  };
}
