/**
 * ThingsBoard firmware/software OTA (≥ 3.3; docs/protocols/thingsBoard.md), the reference
 * protocol: the server announces a package in shared attributes (`fw_title`, `fw_version`, `fw_size`, `fw_checksum`,
 * `fw_checksum_algorithm`, `fw_url`, `fw_tag`; `sw_*` for software), the device downloads it
 * (MQTT chunks on `v2/fw/…`, or HTTP) and reports `fw_state` / `fw_error` telemetry. Schemas,
 * topics, the package ⇄ canonical manifest codec, the `fw_state` mapping, and `protocol`: the one
 * protocol object (device and cloud sides) that generic agents and services use. Browser-safe.
 *
 * @example
 * ```ts
 * import { thingsBoard } from 'otakit'
 *
 * // device: a push arrived on thingsBoard.ATTRIBUTES_TOPIC
 * const attributes = thingsBoard.decodeAttributes(payload)
 * const pkg = thingsBoard.readPackage(attributes)
 * if (thingsBoard.updateDecision(pkg, { title: 'f', version: '1.1' }) === 'update') {
 *   const { value: manifest, lost } = thingsBoard.toCanonical(attributes)
 *   await machine.apply(manifest)
 * }
 * // every transition: publish what ThingsBoard should see
 * for (const message of thingsBoard.statusToTelemetry(status, { title: pkg.title }))
 *   client.publish(thingsBoard.TELEMETRY_TOPIC, JSON.stringify(message))
 * ```
 *
 * @module
 */
export { type CodecOptions, contentPath, fromCanonical, packageId, toCanonical } from './codec.js';
export { descriptor } from './descriptor.js';
export {
  attributeKey,
  CANONICAL_DIGESTS,
  CHECKSUM_ALGORITHM_NAMES,
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  currentTelemetryKey,
  FW_STATES,
  type FwState,
  PACKAGE_KEYS,
  PACKAGE_TYPES,
  type PackageKey,
  type PackageType,
  PREFIX,
  type Prefix,
  SHARED_KEYS,
  type SharedKey,
  targetTelemetryKey,
} from './keys.js';
export { LIMITS } from './limits.js';
export {
  attributeRequest,
  decodeAttributeResponse,
  decodeAttributes,
  isPackageRemoved,
  packageToAttributes,
  readPackage,
  readPackageFields,
  type UpdateDecision,
  type UpdateDecisionOptions,
  updateDecision,
} from './package.js';
export { protocol } from './protocol.js';
export {
  type AttributeRequest,
  AttributeRequestSchema,
  type AttributeResponse,
  AttributeResponseSchema,
  ChecksumAlgorithmSchema,
  ChecksumSchema,
  EXTENSION_KEY,
  type Extension,
  ExtensionSchema,
  FwStateSchema,
  jsonSchemas,
  type Package,
  type PackageInput,
  PackageSchema,
  PackageTypeSchema,
  type SharedAttributes,
  type SharedAttributesInput,
  SharedAttributesSchema,
  SizeSchema,
  type Telemetry,
  type TelemetryInput,
  TelemetrySchema,
  TextSchema,
  TimestampedTelemetrySchema,
  UnverifiedAlgorithmSchema,
  UrlSchema,
} from './schemas.js';
export {
  formatFwError,
  parseFwError,
  statusMapping,
  statusToTelemetry,
  type TelemetryOptions,
  type TelemetryStatus,
  type TelemetryStatusOptions,
  telemetryToStatus,
} from './status.js';
export { type Target, TargetSchema } from './target.js';
export { currentTelemetry, decodeTelemetry, type TelemetryEntry } from './telemetry.js';
export {
  ATTRIBUTE_RESPONSE_SUBSCRIPTION,
  ATTRIBUTES_TOPIC,
  attributeRequestTopic,
  type ChunkTopic,
  chunkErrorTopic,
  chunkRequestTopic,
  chunkResponseSubscription,
  decodeChunkRequest,
  encodeChunkRequest,
  type FirmwareUrlOptions,
  firmwareUrl,
  parseAttributeResponseTopic,
  parseChunkTopic,
  redactFirmwareUrl,
  TELEMETRY_TOPIC,
} from './topics.js';
