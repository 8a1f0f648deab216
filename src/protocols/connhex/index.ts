/**
 * Connhex Edge firmware OTA addon (docs/protocols/connhex.md): {@link protocol}, the shared
 * contract for device agents and cloud services, and the codecs it is built from: the `[ota]`
 * section of `agent.toml` with Go durations, the `HEAD` check on the release endpoint and its
 * `Content-Digest`, the `heartbeat.ota.service` NATS status with its nine words, the `.zip` +
 * `update.sh` package rules, and the conversions to and from the canonical manifest and states.
 * Browser-safe.
 *
 * @example
 * ```ts
 * import { connhex } from 'otakit'
 *
 * const target = connhex.parseTarget({ domain: 'example.com', initId: 'dev-42', key: thingKey })
 * // Device: HEAD the release endpoint, read the response as an order.
 * const [source] = connhex.protocol.device.orderSources(target) // always one HTTP source
 * const { request } = source as { channel: 'http'; request: WireMessage }
 * const head = await fetch(request.address, { method: 'HEAD', headers: request.headers })
 * const { value: manifest } = connhex.protocol.device.decodeOrder(
 *   { address: request.address, payload: '', status: head.status, headers: Object.fromEntries(head.headers) },
 *   { target, current },
 * )
 * // Cloud: read a heartbeat off NATS as a status for the tracker.
 * const status = connhex.protocol.cloud.decodeStatus(
 *   { address: msg.subject, payload: msg.data },
 *   { target, machineId: 'dev-42', previous: { state: tracker.state, update: tracker.snapshot().update } },
 * )
 * if (status) await tracker.ingest(status)
 * ```
 *
 * @module
 */
export {
  type CheckDecision,
  type CheckResponse,
  type DecideOptions,
  decideUpdate,
  type UpToDateReason,
} from './check.js';
export { EXTENSION_KEY, fromCanonical, toCanonical } from './codec.js';
export type { OtaConfig } from './config.js';
export { descriptor } from './descriptor.js';
export type { ConnhexStatusContext } from './device.js';
export {
  type ContentDigest,
  type ContentDigestForm,
  decodeBase64,
  encodeBase64,
  formatContentDigest,
  parseContentDigest,
} from './digest.js';
export {
  type ConnhexCredentials,
  type ContentRange,
  getHeader,
  type HeadersLike,
  parseContentRange,
  parseReleaseHeaders,
  quoteVersion,
  type ReleaseHeaderOptions,
  type RequestHeaderOptions,
  releaseHeaders,
  requestHeaders,
  type WriteHeaderOptions,
} from './headers.js';
export { jsonSchemas } from './json-schemas.js';
export { LIMITS } from './limits.js';
export { NEAR_EQUIVALENTS, statusMapping } from './mapping.js';
export {
  type CheckedPackage,
  checkPackageEntries,
  DEFAULT_INSTALL_DIR,
  type PackageEntry,
  RELEASE_PACKAGE,
  type StorePaths,
  storePaths,
  updateScriptResult,
} from './package.js';
export { protocol } from './protocol.js';
export {
  AgentConfigSchema,
  CompatOtaSectionSchema,
  CompatStatusMessageSchema,
  type ConnhexExtension,
  ConnhexExtensionSchema,
  OTA_STATUSES,
  type OtaSection,
  OtaSectionSchema,
  type OtaStatus,
  OtaStatusSchema,
  type Release,
  type ReleaseMetadata,
  ReleaseMetadataSchema,
  ReleaseSchema,
  ReleaseVersionSchema,
  type StatusMessage,
  type StatusMessageInput,
  StatusMessageSchema,
} from './schemas.js';
export {
  type CanonicalStatusFields,
  type CanonicalStatusInput,
  decodeStatusMessage,
  encodeStatusMessage,
  type FromWireOptions,
  fromWireStatus,
  type StatusEnvelope,
  type StatusOptions,
  safeDecodeStatusMessage,
  sanitizeErrorText,
  statusEnvelope,
  toUpdateStatus,
  toWireStatus,
  type WireStatusContext,
} from './status.js';
export {
  HEARTBEAT_WILDCARD,
  heartbeatSubject,
  isOtaStatusSubject,
  isValidSubject,
  OTA_STATUS_SUBJECT,
  parseHeartbeatSubject,
  parseSubject,
  type SubjectOptions,
  subjectMatches,
} from './subjects.js';
export { parseTarget, type Target, TargetSchema } from './target.js';
export {
  apiBase,
  artifactUrl,
  deviceReleaseUrl,
  type EndpointOptions,
  parseReleaseUrl,
  type ReleaseUrl,
} from './urls.js';
