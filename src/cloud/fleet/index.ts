/**
 * The fleet: trackers for every device, over a pluggable store (memory here; PostgreSQL in
 * `otakit/pg`). Browser-safe.
 *
 * @module
 */
export { type DeviceIdOf, defaultDeviceIdOf } from './device-id.js';
export type { FleetEvents, FleetProgressEvent, FleetTransitionEvent } from './events.js';
export {
  Fleet,
  type FleetBatchItem,
  type FleetOptions,
  type FleetProtocol,
  type IngestMessageOptions,
} from './fleet.js';
export { MemoryFleetStore, type MemoryFleetStoreOptions } from './memory-store.js';
export type {
  AnomalyQuery,
  DeviceQuery,
  FleetStore,
  FleetWork,
  FleetWrites,
  HistoryQuery,
  StoredDevice,
} from './store.js';
export type {
  DeviceSnapshot,
  FleetAnomaly,
  FleetAnomalyKind,
  FleetHistoryEntry,
  FleetIngestResult,
  FleetSnapshot,
  StateCounts,
} from './types.js';
