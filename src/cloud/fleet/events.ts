/**
 * The typed events of a {@link Fleet}, for dashboards. Each is emitted after the change it
 * reports is stored, never before.
 *
 * @module
 */
import type { ProgressEvent, TransitionEvent } from '../../machine/events.js';
import type { DeviceSnapshot, FleetAnomaly } from './types.js';

/** A device moved from one state to another (`machineId` is the device id). */
export interface FleetTransitionEvent extends TransitionEvent {
  deviceId: string;
}

/** A device reported download progress. */
export interface FleetProgressEvent extends ProgressEvent {
  deviceId: string;
}

/**
 * Event map for `fleet.on(...)`.
 *
 * @example
 * ```ts
 * fleet.on('transition', ({ deviceId, from, to }) => console.log(deviceId, from, '->', to))
 * fleet.on('anomaly', (anomaly) => console.warn(anomaly.deviceId, anomaly.kind))
 * ```
 */
export interface FleetEvents {
  transition: (event: FleetTransitionEvent) => void;
  progress: (event: FleetProgressEvent) => void;
  /** A status was refused and recorded. */
  anomaly: (anomaly: FleetAnomaly) => void;
  /** A device's stored record changed: its new snapshot (one row of a dashboard to redraw). */
  device: (snapshot: DeviceSnapshot) => void;
}
