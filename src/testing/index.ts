/**
 * `otakit/testing`: tools to test code built on otakit without hardware or flaky timers. A
 * hand-driven clock, a store that simulates power loss, simulated devices for one machine
 * (`SimulatedDevice`) and for whole fleets on real channels (`createFleetSimulator`); and two
 * protocol models, as namespaces: `shadowModel` (the document semantics of the AWS IoT Device
 * Shadow service: merge, delta, version lock, error documents) and `deguEmulator` (one boot of a
 * Degu sensor, reference or hardened).
 *
 * @example
 * ```ts
 * import { ManualClock, SimulatedDevice, manifestFor } from 'otakit/testing'
 *
 * const content = new Map([['https://cdn.example/app.bin', new Uint8Array(1024)]])
 * const device = new SimulatedDevice({ id: 'sim-1', content })
 * const machine = createUpdateMachine({ id: device.id, hooks: device.hooks })
 * await machine.apply(await manifestFor('u1', '1.0.0', content))
 * ```
 *
 * @module
 */
export { type CrashingStore, createCrashingStore } from './crashing-store.js';
export * as deguEmulator from './degu-emulator.js';
export {
  type ContentFaults,
  createExositeEmulator,
  type ExositeEmulator,
  type ExositeEmulatorOptions,
  type ExositeRequestRecord,
} from './exosite-murano.js';
export {
  type ArtifactRoute,
  createFaultServer,
  type FaultServer,
  type FaultServerStats,
} from './fault-server.js';
export {
  type ArtifactRequest,
  createFleetSimulator,
  type DownloadOptions,
  type FailureKind,
  type FailureRule,
  type FetchedDownload,
  type FleetDeviceSnapshot,
  type FleetDeviceSpec,
  type FleetIgnoredReason,
  FleetSimulator,
  type FleetSimulatorEvents,
  type FleetSimulatorOptions,
  type FleetStats,
  type FleetWaitOptions,
  type MsRange,
  type SimulatedDownload,
  type SimulatedStep,
  seededRandom,
} from './fleet-simulator/index.js';
export { ManualClock } from './manual-clock.js';
export * as shadowModel from './shadow-model.js';
export {
  createShadowService,
  type ShadowService,
  type ShadowServiceOptions,
  type ShadowServiceRequest,
} from './shadow-service.js';
export {
  manifestFor,
  md5Hex,
  SimulatedDevice,
  type SimulatedDeviceOptions,
  type SimulatedFaults,
  sha256Hex,
} from './simulated-device.js';
