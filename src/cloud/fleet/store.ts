/**
 * Where a fleet keeps its devices: one interface, a memory implementation in the core
 * (`MemoryFleetStore`) and a PostgreSQL one in `otakit/pg`. The fleet never reads a device and
 * writes it back outside {@link FleetStore.transact}, so two service instances sharing a store
 * never lose each other's updates.
 *
 * @module
 */
import type { UpdateState } from '../../core/states.js';
import type { MachineRecord } from '../../machine/record.js';
import type { FleetAnomaly, FleetAnomalyKind, FleetHistoryEntry, StateCounts } from './types.js';

/** One device as stored: the tracker's record and what the fleet keeps beside it. */
export interface StoredDevice {
  deviceId: string;
  /** Increments by one with every write; a write must carry the stored revision + 1. */
  revision: number;
  /** The protocol its last decoded message came through. */
  protocol: string | null;
  /** The tracker machine's persisted record (plain JSON; `record.state` is the device's state). */
  record: MachineRecord;
}

/** What a transaction writes, all or nothing. */
export interface FleetWrites {
  /** New versions of devices (each with `revision` one above the one read). */
  devices: StoredDevice[];
  /** Transitions to append, in order. */
  history: FleetHistoryEntry[];
  anomalies: FleetAnomaly[];
}

/** What the work of a transaction returns: the writes, and its own result. */
export interface FleetWork<T> {
  writes: FleetWrites;
  result: T;
}

/** A page of devices. */
export interface DeviceQuery {
  /** Only devices in this state (or one of these states). */
  state?: UpdateState | readonly UpdateState[];
  /** Only devices whose id sorts after this one (the `next` of the previous page). */
  after?: string;
  /** At most this many. @default every device */
  limit?: number;
}

export interface HistoryQuery {
  /** The newest `limit` entries (returned oldest first). @default 100 */
  limit?: number;
}

export interface AnomalyQuery {
  deviceId?: string;
  kind?: FleetAnomalyKind;
  /** The newest `limit` anomalies (returned newest first). @default 100 */
  limit?: number;
}

/**
 * The persistence of a fleet.
 *
 * Implementations must make {@link transact} exclusive per device: while one transaction holds
 * a device, no other transaction on that device (in this process, or in another process
 * sharing the store) reads it. The fleet relies on this, and on the revision, to never lose an
 * update when several service instances ingest for one device.
 */
export interface FleetStore {
  /**
   * Locks `deviceIds` (a device may be given twice; order does not matter), reads them, runs
   * `work` on what is stored (a device never written is absent from the map), writes what it
   * returns and releases, all or nothing: if `work` or a write throws, nothing is written.
   */
  transact<T>(
    deviceIds: readonly string[],
    work: (devices: ReadonlyMap<string, StoredDevice>) => Promise<FleetWork<T>>,
  ): Promise<T>;
  /** One device, or `undefined` when it was never written. */
  device(deviceId: string): Promise<StoredDevice | undefined>;
  /** Devices ordered by id, optionally in given states, paged with `after` and `limit`. */
  devices(query?: DeviceQuery): Promise<StoredDevice[]>;
  /** Devices per state (every state present, 0 when none). */
  counts(): Promise<StateCounts>;
  /** The newest entries of a device's history, oldest first. */
  history(deviceId: string, query?: HistoryQuery): Promise<FleetHistoryEntry[]>;
  /** The newest anomalies, newest first. */
  anomalies(query?: AnomalyQuery): Promise<FleetAnomaly[]>;
  /** Releases what the store holds (a connection pool it opened). Idempotent. */
  close(): Promise<void>;
}
