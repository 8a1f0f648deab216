/**
 * otakit: typed over-the-air updates for IoT devices and fleets. The root entry is browser-safe
 * (web standards only: no `node:*`, no `mqtt`), for device agents, Node services and dashboards.
 * Every name exported here is public API and listed in `api/otakit.api.md`; anything else in
 * `src/` is internal and may change without notice.
 *
 * @example
 * ```ts
 * import { createUpdateMachine, MemoryStore } from 'otakit'
 *
 * const machine = createUpdateMachine({ id: 'pi-42', store: new MemoryStore(), hooks: {} })
 * machine.on('transition', ({ from, to }) => console.log(from, '->', to))
 * await machine.resume()
 * ```
 *
 * @module
 */

// The fleet: one tracker per device over a pluggable store (memory here, PostgreSQL in otakit/pg).
export {
  type AnomalyQuery,
  type DeviceIdOf,
  type DeviceQuery,
  type DeviceSnapshot,
  defaultDeviceIdOf,
  Fleet,
  type FleetAnomaly,
  type FleetAnomalyKind,
  type FleetBatchItem,
  type FleetEvents,
  type FleetHistoryEntry,
  type FleetIngestResult,
  type FleetOptions,
  type FleetProgressEvent,
  type FleetProtocol,
  type FleetSnapshot,
  type FleetStore,
  type FleetTransitionEvent,
  type FleetWork,
  type FleetWrites,
  type HistoryQuery,
  type IngestMessageOptions,
  MemoryFleetStore,
  type MemoryFleetStoreOptions,
  type StateCounts,
  type StoredDevice,
} from './cloud/fleet/index.js';
// What a dashboard draws of a rollout (types only: the orchestrator is in otakit/cloud).
export type {
  RolloutDevice,
  RolloutDeviceCounts,
  RolloutDeviceEvent,
  RolloutDeviceState,
  RolloutFailureKind,
  RolloutSnapshot,
  RolloutState,
  RolloutStateEvent,
  RolloutStopReason,
  RolloutThresholdEvent,
  RolloutWaveEvent,
  RolloutWaveSnapshot,
} from './cloud/rollout/index.js';
export { type Clock, systemClock, type TimerHandle } from './core/clock.js';
export type { DownloadAuth } from './core/credentials.js';
export {
  AbortError,
  fromSerializedError,
  InstallError,
  IntegrityError,
  isOtaError,
  isSerializedOtaError,
  isTrustError,
  ManifestError,
  OTA_ERROR_CODES,
  OtaError,
  type OtaErrorCode,
  type OtaErrorFor,
  type OtaErrorOptions,
  type SerializedOtaError,
  StateError,
  StoreError,
  TimeoutError,
  TRUST_REASONS,
  TransportError,
  TrustError,
  type TrustReason,
  toOtaError,
  type ValidationIssue,
} from './core/errors.js';
export { type Logger, noopLogger } from './core/logger.js';
export { GENERIC_SECRETS, mergeSecrets, type SecretPatterns } from './core/redact.js';
export { DEFAULT_RETRY, type RetryPolicy } from './core/retry.js';
// The shared vocabulary: states, statuses, errors, stores, time and logging.
export {
  type ActiveState,
  canTransition,
  FAILURE_ERROR_CODES,
  FAILURE_STATES,
  type FailureState,
  failureStateFor,
  isActiveState,
  isFailureState,
  isTerminalState,
  isUpdateState,
  type NextState,
  statesBetween,
  TERMINAL_STATES,
  type TerminalState,
  TRANSITIONS,
  UPDATE_STATES,
  type UpdatePhase,
  type UpdateState,
} from './core/states.js';
export {
  type Progress,
  ProgressSchema,
  SerializedOtaErrorSchema,
  TerminalStateSchema,
  type UpdateRef,
  UpdateRefSchema,
  UpdateStateSchema,
  type UpdateStatus,
  type UpdateStatusInput,
  UpdateStatusSchema,
} from './core/status.js';
export { type JsonValue, MemoryStore, type StateStore } from './core/store.js';
export type { WireInput } from './core/wire.js';
// Device agents: a protocol, its channels and the machine, wired once.
export {
  type AgentMachineOptions,
  agentStoreKey,
  createDeviceAgent,
  DeviceAgent,
  type DeviceAgentOptions,
  type StartOptions,
  type StopOptions,
} from './device/agent.js';
export type {
  DeviceAgentEvents,
  IgnoredEvent,
  IgnoredReason,
  OrderEvent,
} from './device/events.js';
export type { PollOptions } from './device/poll-loop.js';
// The update machine, both roles.
export { createUpdateMachine, type UpdateMachine } from './machine/create-machine.js';
export {
  type DeviceMachineOptions,
  DeviceUpdateMachine,
  type OperationOptions,
} from './machine/device-machine.js';
export type { ProgressEvent, ReportEvent, TransitionEvent, UpdateMachineEvents } from './machine/events.js';
export {
  type CheckContext,
  type DownloadContext,
  type DownloadProgress,
  HOOK_NAMES,
  type HookContext,
  type HookName,
  type InstallResult,
  type ReportContext,
  type RollbackContext,
  type StagedContext,
  type UpdateHookContext,
  type UpdateHooks,
} from './machine/hooks.js';
export type { MachineCommonOptions } from './machine/machine-base.js';
export {
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUTS,
  type PhaseRetries,
  type PhaseTimeouts,
} from './machine/phase-runner.js';
export {
  type HistoryEntry,
  HistoryEntrySchema,
  type MachineRecord,
  type MachineRole,
  MachineRoleSchema,
  type StagedArtifact,
  type StagedArtifactInput,
  StagedArtifactSchema,
  type TrustState,
  TrustStateSchema,
  type UpdateOutcome,
  UpdateOutcomeSchema,
  type UpdateSnapshot,
  UpdateSnapshotSchema,
} from './machine/record.js';
export {
  type IngestResult,
  type TrackerMachineOptions,
  TrackerUpdateMachine,
} from './machine/tracker-machine.js';
export {
  createTrustGate,
  type MachineTrustOptions,
  type TrustCheckContext,
  type TrustGate,
} from './machine/trust-gate.js';
export { type VerifyStagedOptions, verifyStaged } from './machine/verify-staged.js';
export { type WaitForOptions, waitFor } from './machine/wait-for.js';
// Signed manifests: the canonical bytes, Ed25519, trust roots, the anti-rollback floor.
export {
  CANONICALIZATION,
  canonicalJson,
  canonicalManifestBytes,
  signedManifestFields,
} from './manifest/canonical.js';
export {
  ED25519_PUBLIC_KEY_LENGTH,
  ED25519_SIGNATURE_LENGTH,
  type Ed25519Backend,
  type Ed25519Options,
  ed25519BackendInUse,
  ed25519GenerateKeyPair,
  ed25519PublicKey,
  ed25519Seed,
  ed25519Sign,
  ed25519Verify,
} from './manifest/ed25519.js';
export {
  createWebHash,
  type HashAlgorithm,
  type HashFactory,
  hashBytes,
  type IncrementalHash,
} from './manifest/hash.js';
// The canonical manifest and hashing.
export {
  type Artifact,
  ArtifactSchema,
  type ArtifactTarget,
  ArtifactTargetSchema,
  type Compatibility,
  CompatibilitySchema,
  isManifestExpired,
  type Manifest,
  type ManifestInput,
  type ManifestIntegrity,
  ManifestSchema,
  manifestIntegrity,
  parseManifest,
  type SignatureEnvelope,
  SignatureEnvelopeSchema,
  safeParseManifest,
} from './manifest/schema.js';
export {
  type PrivateKeyInput,
  type RejectedSignatureReason,
  rotateRoot,
  type SignatureCount,
  signManifest,
  signRoot,
  type VerifyOptions,
  verifyManifestSignature,
} from './manifest/trust.js';
export {
  canonicalRootBytes,
  isRootExpired,
  keyIdOf,
  parseTrustRoot,
  ROOT_TYPE,
  type Signature,
  SignatureSchema,
  type SignedRoot,
  type SignedRootInput,
  SignedRootSchema,
  type TrustKey,
  TrustKeySchema,
  type TrustRoot,
  type TrustRootInput,
  TrustRootSchema,
} from './manifest/trust-root.js';
export {
  checkManifestPolicy,
  integerCompare,
  type ManifestPolicy,
  maxVersion,
  opaque,
  raiseFloor,
  semverCompare,
  type VersionComparator,
  type VersionOrder,
} from './manifest/version-policy.js';
export * as connhex from './protocols/connhex/index.js';
// The protocols: one contract, the registry's light half, and one namespace per platform.
export type {
  CloudCodec,
  DeviceCodec,
  InboundMessage,
  OrderContext,
  OrderDecoding,
  Protocol,
  ProtocolDescriptor,
  StatusContext,
  StatusDecodeContext,
  TargetOf,
  WireChannel,
  WireIntegrity,
  WireMessage,
  WireSource,
} from './protocols/contract.js';
export type { Conversion, Loss, StatusMapping } from './protocols/conversion.js';
export * as degu from './protocols/degu/index.js';
export { PROTOCOL_DESCRIPTORS, PROTOCOL_NAMES, type ProtocolName } from './protocols/descriptors.js';
export * as exosite from './protocols/exosite/index.js';
export * as insighIo from './protocols/insighio/index.js';
export * as micropythonOta from './protocols/micropython-ota/index.js';
export { KNOWN_SECRETS, redactHeaders, redactText, redactUrl } from './protocols/secrets.js';
// The signed statement: a signed manifest carried beside a platform's order (docs/security.md).
export {
  applyStatement,
  type DecodeStatementOptions,
  decodeStatement,
  encodeStatement,
  type ReconcileOptions,
  reconcileStatement,
  STATEMENT_KEY,
  STATEMENT_LIMITS,
  type StatementEncoding,
  signedStatement,
} from './protocols/signed-statement.js';
export { STATUS_MAPPINGS, type StatusMappings } from './protocols/status-mappings.js';
export * as thingsBoard from './protocols/thingsboard/index.js';
export { completeStatus, type PartialStatus } from './protocols/update-status.js';
export { basicAuthorization } from './transport/auth.js';
// Channels: the protocols' wire messages over real transports.
export type { Channel, ChannelSendOptions, Channels, StopListening } from './transport/channel.js';
// Downloads: the transfer engine, sinks, and the MQTT interface the adapters implement.
export {
  type DownloadOptions,
  type DownloadProgressInfo,
  type DownloadResult,
  downloadArtifact,
  type ResumeValidators,
} from './transport/download.js';
export { type DownloadSink, MemorySink, writableStreamSink } from './transport/download-sink.js';
export { type HttpChannel, type HttpChannelOptions, httpChannel } from './transport/http-channel.js';
export { type MqttChannel, mqttChannel } from './transport/mqtt-channel.js';
export {
  type ChunkTopics,
  downloadMqttChunks,
  type MqttChunkDownloadOptions,
  type MqttChunkDownloadResult,
  mqttChunkTopics,
} from './transport/mqtt-chunks.js';
export {
  type MqttConnection,
  type MqttConnectionState,
  type MqttMessage,
  type MqttPublishOptions,
  type MqttQos,
  topicMatches,
} from './transport/mqtt-connection.js';
// AWS IoT Device Shadow clients: over any MqttConnection, and the REST API on ky.
export {
  createShadowClient,
  createShadowHttpClient,
  type DeltaStreamOptions,
  isShadowRejected,
  type NamedShadowPage,
  type OperationTopics,
  SHADOW_REQUEST_FILTERS,
  type ShadowAddress,
  type ShadowClient,
  type ShadowClientOptions,
  type ShadowConflictResolver,
  type ShadowHttpClient,
  type ShadowHttpClientOptions,
  type ShadowOperation,
  type ShadowOperations,
  ShadowRejectedError,
  type ShadowRequestOptions,
  type ShadowRequestState,
  type ShadowTopicSet,
  type ShadowUpdateOptions,
  shadowTopicSet,
} from './transport/shadow/index.js';
