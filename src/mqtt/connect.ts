/**
 * `connectMqtt`: connects with mqtt.js and binds the client with {@link fromMqttClient}, with
 * otakit's defaults for a device that must stay connected: reconnection with exponential backoff
 * and jitter, retried refusals the broker may lift (server unavailable, busy), a bounded offline
 * queue. TLS and mTLS are mqtt.js's own options (`ca`, `cert`, `key`, `rejectUnauthorized`,
 * `servername`), passed through; so is `protocolVersion` (4 = MQTT 3.1.1, 5 = MQTT 5).
 *
 * @module
 */
import type { IClientOptions } from 'mqtt';
import type { MqttConnection } from '../transport/mqtt-connection.js';
import { DEFAULT_RECONNECT_INITIAL_MS, reconnectSchedule } from './backoff.js';
import { fromMqttClient, type MqttBindingOptions, queueLimit } from './binding.js';
import { transportError } from './errors.js';
import { mqtt } from './load-mqtt.js';

/**
 * mqtt.js's client options (`clientId`, `username`, `password`, `protocolVersion`, `clean`,
 * `keepalive`, `ca`/`cert`/`key`…) and otakit's {@link MqttBindingOptions}.
 */
export interface ConnectMqttOptions extends IClientOptions, MqttBindingOptions {}

/**
 * Connects with mqtt.js and resolves once the broker accepted the connection. Rejects with a
 * `TransportError` when it did not (not retryable for refused credentials and untrusted
 * certificates), or an `OtaError` (`CONFIG`) naming a bad option, before connecting.
 *
 * Once connected, a lost connection is retried with backoff (`reconnect`) until `close()`;
 * subscriptions come back by themselves, publishes wait (up to `maxQueuedPublishes`), and
 * `onStateChange` tells the application. `reconnectPeriod: 0` turns reconnecting off.
 */
export async function connectMqtt(url: string, options: ConnectMqttOptions = {}): Promise<MqttConnection> {
  const { reconnect, maxQueuedPublishes, ...clientOptions } = options;
  const reconnecting = clientOptions.reconnectPeriod !== 0;
  // Checked before connecting: a bad option must not cost a connection (nor leave one open).
  const schedule = reconnecting
    ? reconnectSchedule(reconnect, clientOptions.reconnectPeriod ?? DEFAULT_RECONNECT_INITIAL_MS)
    : undefined;
  const binding: MqttBindingOptions = {
    ...(schedule === undefined ? {} : { reconnect: schedule }),
    ...(maxQueuedPublishes === undefined ? {} : { maxQueuedPublishes }),
  };
  queueLimit(maxQueuedPublishes);
  let client: Awaited<ReturnType<typeof mqtt.connectAsync>>;
  try {
    client = await mqtt.connectAsync(url, {
      reconnectPeriod: schedule?.initialMs ?? 0,
      // Refusals a broker may lift (server unavailable or busy) are retried with the backoff;
      // the binding ends the connection on those no retry can fix.
      reconnectOnConnackError: reconnecting,
      ...clientOptions,
    });
  } catch (cause) {
    throw transportError('connect', cause);
  }
  try {
    return fromMqttClient(client, binding);
  } catch (error) {
    client.end(true);
    throw error;
  }
}
