/**
 * insigh.io console OTA (Mainflux based): the console retains a SenML order on
 * `channels/<control-channel>/messages/<device>/ota`; the device downloads the package by file id
 * over HTTPS (device key in the query string), extracts it, reports `e` = 1 or 2 (+ `m`) on the
 * same topic and clears the retained order. This module is the wire model of all of it: zod
 * schemas, topic and URL builders and parsers, the codec to and from the canonical manifest and
 * states, and a hardened reader for the packages. Browser-safe.
 *
 * Hardened by default (docs/protocols/insighIo.md): HTTPS only, ids that cannot alter a topic or a path,
 * typed SenML values, refusal of unsafe tar entries. `strictCompat` on {@link decodeMessage} and
 * `httpFallback` on {@link downloadUrls} restore the reference firmware's leniency where it matters.
 *
 * @example
 * ```ts
 * import { insighIo } from 'otakit'
 *
 * const ids = { controlChannelId: cc, deviceId: did }
 * const message = insighIo.decodeMessage(payload) // on insighIo.otaTopic(ids)
 * if (message.kind === 'order') {
 *   const { value: manifest } = insighIo.toCanonical(message.order, { ...ids, deviceKey })
 *   // ... download manifest.artifacts[0].url with auth: insighIo.downloadAuth(deviceKey),
 *   // insighIo.readPackage(bytes), write entries ...
 *   for (const p of insighIo.reportPublications(ids, { state: 'committed', updateId: manifest.id })) {
 *     await connection.publish(p.topic, p.payload, p.options)
 *   }
 * }
 * ```
 *
 * @module
 */

export {
  type CanonicalContext,
  downloadAuth,
  EXTENSION_KEY,
  fromCanonical,
  type InsighioExtension,
  InsighioExtensionSchema,
  toCanonical,
} from './codec.js';
export { descriptor } from './descriptor.js';
export {
  ChannelIdSchema,
  type ControlIds,
  ControlIdsSchema,
  DeviceIdSchema,
  DeviceKeySchema,
  FileIdSchema,
  FileTypeSchema,
  ID_PATTERN,
  SubtopicSchema,
} from './ids.js';
export { LIMITS } from './limits.js';
export {
  type DecodeMessageOptions,
  decodeMessage,
  encodeOrder,
  encodeStatus,
  isClearPayload,
  safeDecodeMessage,
} from './messages.js';
export type { PackageFormat, PackageOptions, TarEntry } from './package.js';
export { protocol } from './protocol.js';
export {
  clearPublication,
  orderPublication,
  type Publication,
  type PublicationOptions,
  reportPublications,
  statusPublication,
} from './publish.js';
export {
  EVENTS,
  jsonSchemas,
  type OtaEvent,
  type OtaMessage,
  type OtaOrder,
  OtaOrderSchema,
  type OtaStatus,
  OtaStatusSchema,
} from './schemas.js';
export {
  type ResolvedRecord,
  resolvePack,
  type SenmlPack,
  SenmlPackSchema,
  type SenmlRecord,
  SenmlRecordSchema,
} from './senml.js';
export {
  clearsOrder,
  FAILURE_MESSAGES,
  failureOf,
  type ReportableStatus,
  type ReportedFailure,
  statusFromWire,
  statusMapping,
  statusToWire,
  type WireStatusFields,
} from './status.js';
export { type Target, TargetSchema } from './target.js';
export {
  type ConnectSettings,
  type ControlTopic,
  connectSettings,
  controlSubscription,
  controlTopic,
  DEFAULT_KEEPALIVE_SECONDS,
  type DeviceIdentity,
  isOtaTopic,
  MQTT_BROKER,
  OTA_SUBTOPIC,
  otaTopic,
  parseControlTopic,
  parseOtaTopic,
} from './topics.js';
export {
  DEFAULT_BASE_URL,
  DOWNLOAD_PATH,
  type DownloadParams,
  DownloadParamsSchema,
  DownloadUrl,
  type DownloadUrlOptions,
  downloadUrl,
  downloadUrls,
  type ParsedDownloadUrl,
  parseDownloadUrl,
} from './urls.js';
