/**
 * ThingsBoard as one {@link Protocol} object: the device side decodes shared attribute updates
 * and encodes `fw_state` telemetry; the cloud side, ThingsBoard's end of the device API, encodes
 * attribute updates and decodes telemetry. See docs/protocols/thingsBoard.md.
 *
 * @example
 * ```ts
 * import { thingsBoard } from 'otakit'
 *
 * const target = { accessToken: 'A1_TEST_TOKEN' }
 * const [order] = thingsBoard.protocol.cloud.encodeOrder(manifest, target).value
 * const { value } = thingsBoard.protocol.device.decodeOrder(
 *   { address: order.address, payload: order.payload },
 *   { target },
 * )
 * ```
 *
 * @module
 */
import type { Protocol } from '../contract.js';
import { cloud } from './cloud.js';
import { descriptor } from './descriptor.js';
import { device } from './device.js';
import type { FwState } from './keys.js';
import { jsonSchemas } from './schemas.js';
import { type Target, TargetSchema } from './target.js';

export const protocol = {
  ...descriptor,
  targetSchema: TargetSchema,
  jsonSchemas,
  device,
  cloud,
} as const satisfies Protocol<'thingsBoard', FwState, Target>;
