import {
  createUpdateMachine,
  type DeviceMachineOptions,
  type DeviceUpdateMachine,
  type Manifest,
  MemoryStore,
  type StateStore,
} from '../../src/index.js';
import { ManualClock, manifestFor, SimulatedDevice, type SimulatedFaults } from '../../src/testing/index.js';

export const ARTIFACT_URL = 'https://cdn.example.test/app.bin';

export function bytes(length: number, seed = 7): Uint8Array {
  const out = new Uint8Array(length);
  for (let index = 0; index < length; index++) out[index] = (index * 31 + seed) & 0xff;
  return out;
}

export const CONTENT = new Map([[ARTIFACT_URL, bytes(50_000)]]);

export function manifest(id = 'u1', version = '1.0.0'): Promise<Manifest> {
  return manifestFor(id, version, CONTENT);
}

export interface Rig {
  device: SimulatedDevice;
  store: StateStore;
  clock: ManualClock;
  build: (store?: StateStore, extra?: Partial<DeviceMachineOptions>) => DeviceUpdateMachine;
}

/** A simulated device and a factory for machines over a shared store (to simulate restarts). */
export function rig(faults: SimulatedFaults = {}, options: Partial<DeviceMachineOptions> = {}): Rig {
  const clock = new ManualClock();
  const device = new SimulatedDevice({ id: 'dev-1', content: CONTENT, faults, chunkSize: 10_000 });
  const store = new MemoryStore();
  const build = (over: StateStore = store, extra: Partial<DeviceMachineOptions> = {}) =>
    createUpdateMachine({
      id: 'dev-1',
      store: over,
      clock,
      hooks: device.hooks,
      random: () => 0.5,
      ...options,
      ...extra,
    } as DeviceMachineOptions);
  return { device, store, clock, build };
}
