/**
 * Loads mqtt.js for `otakit/mqtt`, CommonJS build: the `require()` twin of `load-mqtt.ts`, which
 * tsup.config.ts substitutes for it in the CJS bundle (CJS has no top-level await). Same
 * behaviour: a missing optional peer fails the `require('otakit/mqtt')` with an error that says
 * what to install.
 *
 * @module
 */
import type * as MqttModule from 'mqtt';
import { missingMqttError } from './missing-peer.js';

type Mqtt = typeof MqttModule.default;

let loaded: Mqtt;
try {
  const exports = require('mqtt') as { default?: Mqtt } & Mqtt;
  loaded = exports.default ?? exports;
} catch (error) {
  throw missingMqttError(error) ?? error;
}

/** mqtt.js (its default export: `connect`, `connectAsync`, `MqttClient`…). */
export const mqtt: Mqtt = loaded;
