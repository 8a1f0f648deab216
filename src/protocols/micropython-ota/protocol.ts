/**
 * micropython_ota as one protocol object, the same shape as every other platform's: a device
 * agent and a cloud service written once against the contract run on it unchanged.
 *
 * Wire summary (details in docs/protocols/micropythonOta.md): orders are the server's
 * `<host>/<project>/version` file (a tag); the device fetches the files its target names under
 * that tag and writes its own `version` file last. No digest, no size, no status channel.
 *
 * @example
 * ```ts
 * import { micropythonOta } from 'otakit'
 *
 * const target = { host: 'http://example.org', project: 'sample', filenames: ['main.py'] }
 * const { value: order } = micropythonOta.protocol.device.decodeOrder(
 *   { address: 'http://example.org/sample/version', payload: 'v1.0.1\n', status: 200 },
 *   { target, current: null },
 * )
 * order?.artifacts[0]?.url // 'http://example.org/sample/v1.0.1_main.py'
 * ```
 *
 * @module
 */
import type { Protocol } from '../contract.js';
import { cloud } from './cloud.js';
import { descriptor } from './descriptor.js';
import { device } from './device.js';
import { jsonSchemas } from './schemas.js';
import type { LocalPhase } from './status.js';
import { type Target, TargetSchema } from './target.js';

export const protocol = {
  ...descriptor,
  targetSchema: TargetSchema,
  jsonSchemas: { ...jsonSchemas, target: TargetSchema },
  device,
  cloud,
} as const satisfies Protocol<'micropythonOta', LocalPhase, Target>;
