/**
 * Degu OTA over AWS IoT Device Shadow (PROTOCOLS.md §1), exported as the `degu` namespace.
 *
 * Two layers. The generic AWS IoT Device Shadow parts: topic and REST path builders and parsers
 * (classic and named shadows), thing/shadow name validation, zod schemas and decoders of every
 * shadow document, and a pure model of the service's document semantics (delta, merge,
 * `version` lock, AWS's error documents). On top, the Degu profile: the `script_user` /
 * `config_user` / `firmware_system` URL + `*_ver` MD5 keys, the update decision, conversion of
 * an order to and from the canonical manifest, the boot-time report, the opt-in clearing of
 * `desired`, the status mapping, and a model of one Degu boot for tests.
 *
 * Hardened by default (case-insensitive digests, verify before install, all-or-nothing);
 * `strictCompat: true` reproduces the reference firmware.
 *
 * @example
 * ```ts
 * import { degu } from 'otakit'
 *
 * // Operator: publish an order.
 * const { value: order, lost } = degu.fromCanonical(manifest)
 * mqtt.publish(degu.shadowTopic({ thingName: 'A1B2C3D4E5F60718' }, 'update'), JSON.stringify(order))
 *
 * // Device: read the shadow and decide.
 * const shadow = degu.decodeMessage('get/accepted', payload)
 * const { value: update } = degu.getAcceptedToCanonical(shadow)
 * if (update) await machine.apply(update)
 * ```
 *
 * @module
 */
import type * as z from 'zod';
import {
  DeguBootRequestSchema,
  DeguDesiredPatchSchema,
  DeguDesiredSchema,
  DeguReportedSchema,
  deguSchemas,
} from './schemas.js';
import { ShadowErrorSchema, shadowSchemas } from './shadow-schemas.js';

export * from './check.js';
export * from './codec.js';
export * from './decode.js';
export * from './emulator.js';
export type { JsonObject, JsonValue } from './json.js';
export * from './limits.js';
export * from './names.js';
export * from './report.js';
export * from './schemas.js';
export * from './service.js';
export * from './shadow-schemas.js';
export * from './status.js';
export * from './topics.js';

/**
 * Every Degu and AWS shadow schema with a JSON representation, for `dist/schemas/degu.<name>.json`.
 * Degu-profile documents first (what a Degu deployment validates), then the generic shadow ones.
 */
export const jsonSchemas: Record<string, z.ZodType> = {
  desired: DeguDesiredSchema,
  desiredPatch: DeguDesiredPatchSchema,
  reported: DeguReportedSchema,
  bootReport: DeguBootRequestSchema,
  request: deguSchemas.request,
  getAccepted: deguSchemas['get/accepted'],
  updateAccepted: deguSchemas['update/accepted'],
  updateDelta: deguSchemas['update/delta'],
  updateDocuments: deguSchemas['update/documents'],
  deleteAccepted: deguSchemas['delete/accepted'],
  error: ShadowErrorSchema,
  shadowRequest: shadowSchemas.request,
  shadowGetAccepted: shadowSchemas['get/accepted'],
  shadowUpdateAccepted: shadowSchemas['update/accepted'],
  shadowUpdateDelta: shadowSchemas['update/delta'],
  shadowUpdateDocuments: shadowSchemas['update/documents'],
};
