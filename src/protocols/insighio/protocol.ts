/**
 * insigh.io through the one protocol contract: identity (name, integrity, secrets, status
 * vocabulary), the target that addresses one device, and both sides of the wire. A device agent
 * and a cloud service written against `Protocol` run insigh.io with no insigh.io-specific code;
 * see docs/protocols/insighIo.md.
 *
 * @example
 * ```ts
 * import { insighIo } from 'otakit'
 *
 * const target = { controlChannelId: cc, deviceId: did }
 * const { value: messages } = insighIo.protocol.cloud.encodeOrder(manifest, target)
 * // publish each message (topic = address, retain, qos) on the console's broker
 * ```
 *
 * @module
 */
import type { Protocol } from '../contract.js';
import { cloud } from './cloud.js';
import { descriptor } from './descriptor.js';
import { device } from './device.js';
import { jsonSchemas, type OtaEvent } from './schemas.js';
import { type Target, TargetSchema } from './target.js';

/** The insigh.io protocol object: `device` and `cloud` sides over MQTT. */
export const protocol = {
  ...descriptor,
  targetSchema: TargetSchema,
  jsonSchemas,
  device,
  cloud,
} as const satisfies Protocol<'insighIo', OtaEvent, Target>;
