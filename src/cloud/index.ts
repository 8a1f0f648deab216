/**
 * `otakit/cloud`: what a back end imports to push updates to devices and follow them. The generic
 * publisher (`createUpdatePublisher`: publish, withdraw, follow statuses into a `Fleet`) and each
 * platform's publisher; browser-safe like the root (servers that need Node are in `otakit/node`).
 * `Fleet` and `MemoryFleetStore` are exported here too, and from the root for dashboards.
 *
 * @example
 * ```ts
 * import { createUpdatePublisher } from 'otakit/cloud'
 * import { insighIo, mqttChannel } from 'otakit'
 *
 * const publisher = createUpdatePublisher({ protocol: insighIo.protocol, channels: { mqtt: mqttChannel(connection) } })
 * await publisher.watch(target)
 * await publisher.publish(target, manifest)
 * ```
 *
 * @module
 */

// Connhex's cloud side: one NATS subscription for a fleet of edges, the publisher's release token.
export {
  type ConnhexFleetWatchOptions,
  type ConnhexSharedTarget,
  watchConnhexFleet,
} from './connhex-fleet-watch.js';
export { connhexPublisherChannel } from './connhex-publisher-channel.js';
// Degu's cloud side: orders written into desired, success when reported matches.
export {
  createDeguPublisher,
  type DeguCallOptions,
  type DeguClearedEvent,
  DeguPublisher,
  type DeguPublisherEvents,
  type DeguPublisherOptions,
  type DeguReadResult,
  type DeguShadow,
  type DeguShadowFactory,
  type DeguStaleEvent,
  type DeguSuccessEvent,
  type DeguThing,
  type DeguThings,
  type DeguVersions,
  type DeguWaitOptions,
  type DeguWaitResult,
  type DeguWriteResult,
  type HttpShadowsOptions,
  httpShadows,
  type MqttShadowsOptions,
  mqttShadows,
} from './degu/index.js';
// Exosite's cloud side: config_otau through Murano's state API, otau_in and acknowledgements followed.
export {
  createExositePublisher,
  type ExositeAcknowledgement,
  ExositePublisher,
  type ExositePublisherEvents,
  type ExositePublisherOptions,
  type ExositeStatusEvent,
  type ExositeSync,
} from './exosite/index.js';
export { Fleet, MemoryFleetStore } from './fleet/index.js';
// insigh.io's cloud side: packages a device reads, the retained order, a file id catalog.
export {
  CATALOG_PREFIX as INSIGHIO_CATALOG_PREFIX,
  type CatalogEntry as InsighIoCatalogEntry,
  createInsighIoPublisher,
  InsighIoPublisher,
  type InsighIoPublisherEvents,
  type InsighIoPublisherOptions,
  type InsighIoPublishResult,
  type InsighIoRelease,
  MemoryPackageStore,
  type PackageFile,
  type PackageStore,
  type PackageWriteFormat,
  ReleaseCatalog as InsighIoReleaseCatalog,
  type WriteTarOptions,
  type WrittenPackage,
  wrapGzip,
  wrapPseudoGzip,
  writePackage,
  writeTar,
} from './insighio/index.js';
// The cloud side of any protocol: publish, withdraw, follow the statuses in a fleet.
export {
  createUpdatePublisher,
  type PublisherStatusEvent,
  type PublishOptions,
  type PublishResult,
  UpdatePublisher,
  type UpdatePublisherEvents,
  type UpdatePublisherOptions,
} from './publisher.js';
// Staged rollouts: waves, pacing, thresholds, retries, windows; shared by service instances through the store.
export {
  type CancelOptions as RolloutCancelOptions,
  createRolloutOrchestrator,
  type DispatchingPublisher,
  type DispatchOptions,
  FINAL_ROLLOUT_STATES,
  type MaintenanceWindow,
  MemoryRolloutStore,
  type NormalizedRolloutPlan,
  nextOpening,
  normalizeRolloutPlan,
  publisherDispatcher,
  ROLLOUT_DEVICE_STATES,
  type RolloutClaim,
  type RolloutCounts,
  type RolloutDevice,
  type RolloutDeviceChange,
  type RolloutDeviceCounts,
  type RolloutDeviceEvent,
  type RolloutDeviceQuery,
  type RolloutDeviceState,
  type RolloutDispatcher,
  type RolloutEvents,
  type RolloutFailureKind,
  RolloutOrchestrator,
  type RolloutOrchestratorOptions,
  type RolloutPace,
  type RolloutPlanInput,
  RolloutPlanSchema,
  type RolloutRecord,
  type RolloutSnapshot,
  type RolloutState,
  type RolloutStateEvent,
  type RolloutStepContext,
  type RolloutStopReason,
  type RolloutStore,
  type RolloutThreshold,
  type RolloutThresholdEvent,
  type RolloutWave,
  type RolloutWaveEvent,
  type RolloutWaveSnapshot,
  type TrippedThreshold,
  windowOpen,
} from './rollout/index.js';
// The self-hosted AWS IoT Device Shadow service: over any MqttConnection, on a ShadowStore.
export {
  createShadowService,
  MemoryShadowStore,
  type ShadowRequestRecord,
  type ShadowService,
  type ShadowServiceLimits,
  type ShadowServiceOptions,
  type ShadowSizeLimits,
  type ShadowSlot,
  type ShadowStore,
  type StateShadowStoreOptions,
  type StoredShadow,
  shadowKey,
  stateShadowStore,
} from './shadow-service/index.js';
// Statuses of a whole fleet through one (optionally MQTT 5 shared) subscription, applied in batches.
export {
  createStatusIntake,
  StatusIntake,
  type StatusIntakeEvents,
  type StatusIntakeOptions,
  type StatusIntakeStats,
} from './status-intake.js';
// ThingsBoard's cloud side: shared fw_* attributes, fw_state into the fleet, the REST API.
export {
  type BackendCallOptions as ThingsBoardBackendCallOptions,
  createThingsBoardPublisher,
  createThingsBoardRestClient,
  type DeviceTelemetry as ThingsBoardDeviceTelemetry,
  type ThingsBoardAuth,
  type ThingsBoardBackend,
  type ThingsBoardCallOptions,
  ThingsBoardPublisher,
  type ThingsBoardPublisherEvents,
  type ThingsBoardPublisherOptions,
  ThingsBoardRestClient,
  type ThingsBoardRestClientOptions,
  type ThingsBoardStatusEvent,
  thingsBoardAttributeChannel,
} from './thingsboard/index.js';
