/**
 * One factory for both roles of the update machine.
 *
 * @module
 */
import { type DeviceMachineOptions, DeviceUpdateMachine } from './device-machine.js';
import { type TrackerMachineOptions, TrackerUpdateMachine } from './tracker-machine.js';

/** Either role of the machine: both have the same states, events and snapshot. */
export type UpdateMachine = DeviceUpdateMachine | TrackerUpdateMachine;

/**
 * Creates an update machine. With `role: 'tracker'` it follows a device from cloud code; by
 * default it is a device machine that runs your hooks.
 *
 * @example
 * ```ts
 * const machine = createUpdateMachine({
 *   id: 'gateway-7',
 *   store: new FileStore('/var/lib/agent/state'),
 *   hooks: { download, install, healthCheck, rollback, report },
 * })
 * await machine.resume()              // finish whatever a crash interrupted
 * const outcome = await machine.apply(manifest)
 * ```
 */
export function createUpdateMachine(options: TrackerMachineOptions): TrackerUpdateMachine;
export function createUpdateMachine(options: DeviceMachineOptions): DeviceUpdateMachine;
export function createUpdateMachine(options: DeviceMachineOptions | TrackerMachineOptions): UpdateMachine {
  return options.role === 'tracker' ? new TrackerUpdateMachine(options) : new DeviceUpdateMachine(options);
}
