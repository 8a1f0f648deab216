/**
 * What a fleet shows: one device's snapshot, the counts by state, a device's history and the
 * anomalies its devices reported. All plain JSON, the same in memory and in PostgreSQL, so a
 * dashboard renders them as they come.
 *
 * @module
 */
import type { SerializedOtaError } from '../../core/errors.js';
import type { UpdateState } from '../../core/states.js';
import type { UpdateSnapshot } from '../../machine/record.js';

/** One device as the fleet tracks it: the tracker's snapshot, plus what the fleet adds. */
export interface DeviceSnapshot extends UpdateSnapshot {
  /** The device id (the same as `machineId`). */
  deviceId: string;
  /** The protocol its last decoded message came through (`null` for statuses given directly). */
  protocol: string | null;
  /** Increments with every write of this device: two snapshots with one revision are the same. */
  revision: number;
}

/** Devices per state; a state no device is in counts 0. */
export type StateCounts = Record<UpdateState, number>;

/** What `fleet.snapshot()` returns. */
export interface FleetSnapshot {
  /** ISO 8601 time the snapshot was taken (fleet clock). */
  at: string;
  /** Devices tracked, in every state. */
  total: number;
  counts: StateCounts;
  /** The devices asked for (all of them by default), ordered by id. */
  devices: DeviceSnapshot[];
  /** The id to pass as `after` for the next page, or `null` when this page was the last. */
  next: string | null;
}

/** One transition of one device, as the store keeps it (all of them, not only the snapshot's). */
export interface FleetHistoryEntry {
  deviceId: string;
  from: UpdateState;
  to: UpdateState;
  /** ISO 8601 time the fleet applied it. */
  at: string;
  updateId: string | null;
  /** States the tracker inferred because the device did not report them. */
  skipped?: UpdateState[];
  error?: SerializedOtaError;
}

/**
 * Why a status was not applied.
 * - `illegal_transition`: the transition table forbids going from the tracked state to the reported one;
 * - `out_of_order`: the device already passed the reported state in this update (a late or replayed message);
 * - `update_mismatch`: the device reported another update while one is under way;
 * - `invalid_status`: the message or status is malformed (the protocol's or the tracker's validation).
 */
export type FleetAnomalyKind = 'illegal_transition' | 'out_of_order' | 'update_mismatch' | 'invalid_status';

/** A status the fleet refused, recorded instead of crashing. */
export interface FleetAnomaly {
  deviceId: string;
  kind: FleetAnomalyKind;
  /** The state tracked when the status arrived. */
  from: UpdateState;
  /** The state reported, when the status was readable. */
  to: UpdateState | null;
  /** The update tracked when the status arrived. */
  updateId: string | null;
  /** The update the status named, when readable. */
  reportedUpdateId: string | null;
  /** ISO 8601 time the fleet saw it (fleet clock). */
  at: string;
  /** The time the device stamped on the status, when readable. */
  reportedAt: string | null;
  /** The protocol of the message, when it came through `ingestMessage`. */
  protocol: string | null;
  /** The refusal, as an otakit error (no payload values in it). */
  error: SerializedOtaError;
}

/** What one ingested status did. */
export interface FleetIngestResult {
  deviceId: string;
  /**
   * `applied`: the state changed; `duplicate`: the device repeated its state (progress may have
   * moved); `refused`: recorded as `anomaly`; `ignored`: the message held no status (an empty
   * retained message, an echo of an order).
   */
  outcome: 'applied' | 'duplicate' | 'refused' | 'ignored';
  /** The device's state afterwards. */
  state: UpdateState;
  /** States inferred between the previous and the reported one. */
  skipped: UpdateState[];
  anomaly: FleetAnomaly | null;
}
