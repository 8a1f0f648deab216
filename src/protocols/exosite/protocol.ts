/**
 * Exosite Murano as one protocol object: identity (`descriptor`), target validation, wire
 * schemas, and both sides of the contract. Device agents and cloud services written against
 * `Protocol` use it like any other platform; docs/protocols/exosite.md describes the wire.
 *
 * @example
 * ```ts
 * import { exosite } from 'otakit'
 *
 * const target = exosite.TargetSchema.parse({ productId: 'd1zzd6dflnt50000', identity: 'sensor-0042', transport: 'mqtt' })
 * const { value: messages } = exosite.protocol.cloud.encodeOrder(manifest, target)
 * ```
 *
 * @module
 */
import type { Protocol } from '../contract.js';
import { cloud } from './cloud.js';
import { descriptor } from './descriptor.js';
import { device } from './device.js';
import { jsonSchemas, type OtauStatusCode } from './schemas.js';
import { type Target, TargetSchema } from './target.js';

export const protocol = {
  ...descriptor,
  targetSchema: TargetSchema,
  jsonSchemas,
  device,
  cloud,
} as const satisfies Protocol<'exosite', OtauStatusCode, Target>;
