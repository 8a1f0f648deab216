/**
 * Staged rollouts: waves, pacing, abort thresholds, timeouts, retries, maintenance windows,
 * pause / resume / cancel, persisted in a {@link RolloutStore} that several service instances
 * share (memory here; PostgreSQL in `otakit/pg`). Browser-safe.
 *
 * @module
 */
export {
  type DispatchingPublisher,
  type DispatchOptions,
  publisherDispatcher,
  type RolloutDispatcher,
} from './dispatcher.js';
export type {
  RolloutDeviceEvent,
  RolloutEvents,
  RolloutStateEvent,
  RolloutThresholdEvent,
  RolloutWaveEvent,
} from './events.js';
export { MemoryRolloutStore } from './memory-store.js';
export {
  type CancelOptions,
  createRolloutOrchestrator,
  RolloutOrchestrator,
  type RolloutOrchestratorOptions,
} from './orchestrator.js';
export {
  type MaintenanceWindow,
  type NormalizedRolloutPlan,
  normalizePlan as normalizeRolloutPlan,
  type RolloutPace,
  type RolloutPlanInput,
  RolloutPlanSchema,
  type RolloutThreshold,
  type RolloutWave,
} from './plan.js';
export type { RolloutDeviceCounts, RolloutSnapshot, RolloutWaveSnapshot } from './snapshot.js';
export type {
  RolloutClaim,
  RolloutDeviceChange,
  RolloutDeviceQuery,
  RolloutStepContext,
  RolloutStore,
} from './store.js';
export type { TrippedThreshold } from './thresholds.js';
export {
  FINAL_ROLLOUT_STATES,
  ROLLOUT_DEVICE_STATES,
  type RolloutCounts,
  type RolloutDevice,
  type RolloutDeviceState,
  type RolloutFailureKind,
  type RolloutRecord,
  type RolloutState,
  type RolloutStopReason,
} from './types.js';
export { nextOpening, windowOpen } from './windows.js';
