/**
 * Degu OTA over AWS IoT Device Shadow (docs/protocols/degu.md), exported as the `degu` namespace.
 *
 * `protocol` is the one contract every otakit protocol implements: device side (orders from the
 * shadow in, the `reported` MD5s out) and cloud side (orders into `desired`, the device's reports
 * read as canonical statuses). Under it, the building blocks: the generic AWS IoT Device Shadow
 * parts (topic and REST path builders and parsers for classic and named shadows, thing/shadow
 * name validation, zod schemas and decoders of every shadow document) and the Degu profile (the
 * `script_user` / `config_user` / `firmware_system` URL + `*_ver` MD5 keys, the update decision,
 * conversion of an order to and from the canonical manifest, the boot-time report, the opt-in
 * clearing of `desired`, the status mapping). Models of the shadow service and of a Degu boot,
 * for tests, are in `otakit/testing` (`shadowModel`, `deguEmulator`).
 *
 * Hardened by default (case-insensitive digests, verify before install, all-or-nothing);
 * `strictCompat: true` reproduces the reference firmware.
 *
 * @example
 * ```ts
 * import { degu } from 'otakit'
 *
 * const target = { thingName: 'A1B2C3D4E5F60718' }
 * // Operator: the order, as one MQTT message to the shadow's /update topic.
 * const { value: [order] } = degu.protocol.cloud.encodeOrder(manifest, target)
 * // Device: what arrives on /update/delta or /get/accepted, as a canonical manifest.
 * const { value: update } = degu.protocol.device.decodeOrder(message, { target })
 * ```
 *
 * @module
 */
export * from './check.js';
export * from './codec.js';
export * from './decode.js';
export { descriptor } from './descriptor.js';
export type { JsonObject } from './json.js';
export { jsonSchemas } from './json-schemas.js';
export * from './limits.js';
export * from './names.js';
export * from './order-ref.js';
export { protocol, type Target, TargetSchema } from './protocol.js';
export * from './report.js';
export * from './schemas.js';
export * from './shadow-schemas.js';
export * from './status.js';
export * from './topics.js';
