/**
 * The fleet simulator of `otakit/testing`: N simulated devices per platform, each a small state
 * machine that speaks the platform's protocol on real channels (MQTT, NATS, HTTP), with injected
 * failures, latencies, reboots and offline periods, on an injectable clock and a seedable random
 * source. See docs/testing/fleet-simulator.md.
 *
 * @example
 * ```ts
 * import { createFleetSimulator, seededRandom } from 'otakit/testing'
 *
 * const sim = createFleetSimulator({ protocol, devices, channels, random: seededRandom(1) })
 * await sim.start()
 * ```
 *
 * @module
 */
export type { FleetIgnoredReason, FleetSimulatorEvents } from './events.js';
export type { FleetDeviceSnapshot } from './fleet-device.js';
export type {
  ArtifactRequest,
  DownloadOptions,
  FailureKind,
  FailureRule,
  FetchedDownload,
  FleetDeviceSpec,
  FleetSimulatorOptions,
  SimulatedDownload,
  SimulatedStep,
} from './options.js';
export { type MsRange, seededRandom } from './random.js';
export { createFleetSimulator, FleetSimulator, type FleetWaitOptions } from './simulator.js';
export type { FleetStats } from './stats.js';
