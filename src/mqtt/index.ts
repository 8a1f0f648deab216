/**
 * `otakit/mqtt`: binds otakit's {@link MqttConnection} interface to mqtt.js (an optional peer
 * dependency, loaded only by this entry), with reconnection backoff, renewed subscriptions, a
 * bounded offline queue and connection state changes. See docs/mqtt.md.
 *
 * @example
 * ```ts
 * import { connectMqtt } from 'otakit/mqtt'
 *
 * const connection = await connectMqtt('mqtts://broker.example:8883', {
 *   clientId: 'gw-7',
 *   reconnect: { initialMs: 1_000, maxMs: 60_000 },
 * })
 * connection.onStateChange?.((change) => console.log('mqtt', change.state))
 * const stop = await connection.subscribe('channels/+/messages/gw-7/ota', (message) => { ... })
 * ```
 *
 * @module
 */
export type {
  MqttConnection,
  MqttConnectionState,
  MqttMessage,
  MqttPublishOptions,
  MqttQos,
} from '../transport/mqtt-connection.js';
export { topicMatches } from '../transport/mqtt-connection.js';
export type { ReconnectOptions } from './backoff.js';
export { fromMqttClient, type MqttBindingOptions } from './binding.js';
export { type ConnectMqttOptions, connectMqtt } from './connect.js';
