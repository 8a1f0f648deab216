/**
 * Degu on AWS IoT Device Shadow as the one protocol contract: identity, target, wire schemas,
 * and both sides (docs/protocols/degu.md).
 *
 * @example
 * ```ts
 * import { degu } from 'otakit'
 *
 * const target = { thingName: 'A1B2C3D4E5F60718' }
 * const { value: messages } = degu.protocol.cloud.encodeOrder(manifest, target)
 * // one MQTT message to $aws/things/A1B2C3D4E5F60718/shadow/update
 * ```
 *
 * @module
 */
import type { Protocol } from '../contract.js';
import { cloud } from './cloud.js';
import { descriptor } from './descriptor.js';
import { device } from './device.js';
import { jsonSchemas } from './json-schemas.js';
import type { DeguStatus } from './status.js';
import { type Target, TargetSchema } from './target.js';

export { type Target, TargetSchema } from './target.js';

/** The Degu protocol: hardened (case-insensitive digests) on both sides. */
export const protocol = {
  ...descriptor,
  targetSchema: TargetSchema,
  jsonSchemas,
  device,
  cloud,
} as const satisfies Protocol<'degu', DeguStatus, Target>;
