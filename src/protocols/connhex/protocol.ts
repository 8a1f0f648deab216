/**
 * Connhex Edge as one object implementing the shared protocol contract: the device polls its
 * release endpoint with `HEAD` and reports on the `heartbeat.ota.service` NATS subject; the
 * cloud publishes a release at that endpoint and reads the heartbeats. See
 * docs/protocols/connhex.md.
 *
 * @example
 * ```ts
 * import { connhex } from 'otakit'
 *
 * const target = connhex.parseTarget({ domain: 'example.com', initId: 'dev-42', key: thingKey })
 * const [source] = connhex.protocol.device.orderSources(target) // HEAD https://apis.example.com/iot/ota/dev-42
 * ```
 *
 * @module
 */
import type { Protocol } from '../contract.js';
import { cloud } from './cloud.js';
import { descriptor } from './descriptor.js';
import { device } from './device.js';
import { jsonSchemas } from './json-schemas.js';
import type { OtaStatus } from './schemas.js';
import { type Target, TargetSchema } from './target.js';

/** Connhex Edge, both sides. */
export const protocol = {
  ...descriptor,
  targetSchema: TargetSchema,
  jsonSchemas,
  device,
  cloud,
} as const satisfies Protocol<'connhex', OtaStatus, Target>;
