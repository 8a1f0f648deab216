/**
 * The typed events of a rollout orchestrator, for dashboards and logs. Each is emitted by the
 * instance that made the change, after it is stored.
 *
 * @module
 */
import type { TrippedThreshold } from './thresholds.js';
import type { RolloutDevice, RolloutDeviceState, RolloutState, RolloutStopReason } from './types.js';

export interface RolloutStateEvent {
  rolloutId: string;
  from: RolloutState;
  to: RolloutState;
  reason: RolloutStopReason | null;
  at: string;
}

export interface RolloutWaveEvent {
  rolloutId: string;
  /** Index of the wave in the plan, and its name. */
  wave: number;
  name: string;
  /** `started`: its orders may go out; `settled`: every device of it settled (soak time starts). */
  phase: 'started' | 'settled';
  at: string;
}

export interface RolloutDeviceEvent {
  rolloutId: string;
  deviceId: string;
  from: RolloutDeviceState;
  to: RolloutDeviceState;
  device: RolloutDevice;
}

export interface RolloutThresholdEvent extends TrippedThreshold {
  rolloutId: string;
  at: string;
}

/**
 * Event map for `orchestrator.on(...)`.
 *
 * @example
 * ```ts
 * orchestrator.on('state', ({ rolloutId, to, reason }) => console.log(rolloutId, to, reason?.message ?? ''))
 * orchestrator.on('device', ({ deviceId, to }) => console.log(deviceId, to))
 * ```
 */
export interface RolloutEvents {
  state: (event: RolloutStateEvent) => void;
  wave: (event: RolloutWaveEvent) => void;
  device: (event: RolloutDeviceEvent) => void;
  threshold: (event: RolloutThresholdEvent) => void;
  /** A round or an order failed in a way the orchestrator retries (a store or dispatch failure). */
  error: (error: Error) => void;
}
