/**
 * Loads mqtt.js for `otakit/mqtt` (ESM build). A top-level `await import()` instead of a static
 * import, so a missing optional peer fails the import of `otakit/mqtt` with an error that says
 * what to install (see {@link missingMqttError}) instead of Node's bare `ERR_MODULE_NOT_FOUND`.
 * Bundlers still see the literal `import('mqtt')` and bundle it. The CommonJS build takes
 * `load-mqtt.cjs.ts` instead (tsup.config.ts): CJS has no top-level await.
 *
 * @module
 */
import type * as MqttModule from 'mqtt';
import { missingMqttError } from './missing-peer.js';

type Mqtt = typeof MqttModule.default;

let loaded: Mqtt;
try {
  const namespace = await import('mqtt');
  // Node and bundlers expose mqtt.js's CommonJS exports as `default`; keep the namespace otherwise.
  loaded = namespace.default ?? (namespace as unknown as Mqtt);
} catch (error) {
  throw missingMqttError(error) ?? error;
}

/** mqtt.js (its default export: `connect`, `connectAsync`, `MqttClient`…). */
export const mqtt: Mqtt = loaded;
