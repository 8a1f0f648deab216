/**
 * Exosite Murano / ExoSense OTAU (docs/protocols/exosite.md): the `config_otau` manifest and the `otau_in`
 * status (both JSON *strings* on the wire), the form bodies, long poll and auth header of the HTTP device
 * API, the `$resource/…` MQTT topics, the acknowledgement of a received manifest, and the conversion to and
 * from the canonical manifest and states. Browser-safe: web standards only, no I/O.
 *
 * @example
 * ```ts
 * import { exosite } from 'otakit'
 *
 * // Device, HTTP: wait for a manifest, acknowledge it, report progress.
 * const poll = exosite.longPollRequest({ token, timeoutMs: 30_000, ifModifiedSince: since })
 * const res = await fetch(new URL(poll.path, exosite.deviceApiOrigin(pid)), poll)
 * const result = exosite.decodeLongPollResponse({ status: res.status, body: await res.text() }, res.headers.get('Last-Modified'))
 * if (result.kind === 'changed' && !exosite.isEmptyResourceValue(result.value)) {
 *   const ack = exosite.acknowledgeRequest({ token, value: result.value })
 *   const manifest = exosite.decodeManifest(result.value)
 *   const { value: canonical } = exosite.toCanonical(manifest, { content: exosite.contentBaseUrl(pid) })
 *   const status = exosite.statusFromCanonical({ state: 'downloading', version: manifest.version })
 * }
 * ```
 *
 * @module
 */
export { acknowledgeChange, acknowledgePublication, acknowledgeRequest } from './ack.js';
export { ALIAS_PATTERN, AliasSchema, assertAlias, CONFIG_OTAU, isAlias, OTAU_IN } from './alias.js';
export { cloud } from './cloud.js';
export {
  EXTENSION_KEY,
  type ExositeExtension,
  ExositeExtensionSchema,
  type FromCanonicalOptions,
  fromCanonical,
  type ToCanonicalOptions,
  toCanonical,
} from './codec.js';
export { contentBaseUrl } from './content-url.js';
export { descriptor } from './descriptor.js';
export { acknowledgeOrder, device } from './device.js';
export { decodeForm, encodeForm, formEncodeComponent } from './form.js';
export {
  ALIAS_PATH,
  authHeaders,
  CIK_HEADER,
  DEFAULT_DOMAIN,
  decodeLongPollResponse,
  decodeReadResponse,
  deviceApiOrigin,
  type ExositeRequest,
  type ExositeResponse,
  FORM_CONTENT_TYPE,
  hybridRequest,
  isDeviceToken,
  type LongPollOptions,
  type LongPollResult,
  longPollRequest,
  readRequest,
  writeRequest,
} from './http.js';
export {
  decodeResourceState,
  IDENTITY_STATE_PATH,
  identityStatePath,
  type ResourceState,
  ResourceStateSchema,
} from './identity-state.js';
export { LIMITS } from './limits.js';
export {
  type ContentLocator,
  classifyPayloadItem,
  isPayloadItem,
  PAYLOAD_ITEM_EXPECTED,
  type PayloadItem,
  resolvePayloadItem,
} from './payload.js';
export { protocol } from './protocol.js';
export {
  type DecodeManifestOptions,
  decodeManifest,
  decodeStatus,
  encodeManifest,
  encodeStatus,
  isEmptyResourceValue,
  manifestVersionOf,
  safeDecodeManifest,
  safeDecodeStatus,
} from './resource.js';
export {
  type Batch,
  type BatchEntry,
  BatchEntrySchema,
  BatchSchema,
  CompatOtauManifestSchema,
  jsonSchemas,
  OTAU_STATUSES,
  OTAU_TYPES,
  type OtauManifest,
  type OtauManifestInput,
  OtauManifestSchema,
  type OtauStatus,
  type OtauStatusCode,
  OtauStatusSchema,
  type OtauType,
  PayloadItemSchema,
} from './schemas.js';
export {
  type CanonicalStatusFields,
  type CanonicalStatusInput,
  isAlreadyInstalled,
  otauStatus,
  type StatusContext,
  type StatusFromCanonicalOptions,
  statusFromCanonical,
  statusMapping,
  statusToCanonical,
} from './status.js';
export { DEFAULT_LONG_POLL_MS, type Target, TargetSchema } from './target.js';
export {
  BATCH_TOPIC,
  decodeBatch,
  encodeBatch,
  type Publication,
  parseResourceTopic,
  provisionTopic,
  RESOURCE_SUBSCRIPTION,
  type ResourceTopic,
  resourceChangeTopic,
  resourceTopic,
  safeParseResourceTopic,
} from './topics.js';
