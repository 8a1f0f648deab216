/**
 * A device's snapshot from its stored record: the same fields `tracker.snapshot()` gives, so a
 * dashboard renders a device the same whether the fleet's tracker is in memory or not.
 *
 * @module
 */
import type { StoredDevice } from './store.js';
import type { DeviceSnapshot } from './types.js';

export function deviceSnapshot(device: StoredDevice): DeviceSnapshot {
  const record = device.record;
  return {
    deviceId: device.deviceId,
    protocol: device.protocol,
    revision: device.revision,
    machineId: record.machineId,
    role: record.role,
    state: record.state,
    update: record.update,
    current: record.current,
    progress: record.progress,
    history: record.history.map((entry) => ({ ...entry })),
    lastError: record.lastError,
    lastOutcome: record.lastOutcome,
    awaitingReboot: record.awaitingReboot,
    steps: record.steps,
    updatedAt: record.updatedAt,
  };
}
