/**
 * `otakit/mqtt`: binds otakit's {@link MqttConnection} interface to mqtt.js (an optional peer
 * dependency, loaded only by this entry).
 *
 * @example
 * ```ts
 * import { connectMqtt } from 'otakit/mqtt'
 *
 * const connection = await connectMqtt('mqtts://broker.example:8883', { clientId: 'gw-7' })
 * const stop = await connection.subscribe('channels/+/messages/gw-7/ota', (message) => { ... })
 * ```
 *
 * @module
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { TransportError } from '../core/errors.js';
import {
  type MqttConnection,
  type MqttMessage,
  type MqttPublishOptions,
  type MqttQos,
  topicMatches,
} from '../transport/mqtt-connection.js';

export type {
  MqttConnection,
  MqttMessage,
  MqttPublishOptions,
  MqttQos,
} from '../transport/mqtt-connection.js';
export { topicMatches } from '../transport/mqtt-connection.js';

/** Credentials never appear in messages: mqtt.js errors are reduced to their message. */
function transportError(what: string, cause: unknown): TransportError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new TransportError(`MQTT ${what} failed: ${reason}`, { cause });
}

/**
 * Wraps a connected (or connecting) mqtt.js client. Handlers are dispatched by topic filter,
 * so several subscriptions can share one client.
 */
export function fromMqttClient(client: MqttClient): MqttConnection {
  const handlers = new Set<{ filter: string; handler: (message: MqttMessage) => void }>();
  // mqtt.js never settles some calls on an ended client (e.g. with reconnectPeriod 0): refuse them here.
  let closed = false;
  const ensureOpen = (what: string) => {
    if (closed)
      throw new TransportError(`MQTT ${what} failed: the connection is closed`, { retryable: false });
  };
  client.on('message', (topic, payload, packet) => {
    const message: MqttMessage = { topic, payload: new Uint8Array(payload), retain: packet.retain };
    for (const entry of handlers) if (topicMatches(entry.filter, topic)) entry.handler(message);
  });
  return {
    async publish(topic: string, payload: string | Uint8Array, options: MqttPublishOptions = {}) {
      ensureOpen(`publish to ${topic}`);
      try {
        await client.publishAsync(topic, typeof payload === 'string' ? payload : Buffer.from(payload), {
          qos: options.qos ?? 1,
          retain: options.retain ?? false,
        });
      } catch (cause) {
        throw transportError(`publish to ${topic}`, cause);
      }
    },
    async subscribe(
      filter: string,
      handler: (message: MqttMessage) => void,
      options: { qos?: MqttQos } = {},
    ) {
      ensureOpen(`subscribe to ${filter}`);
      const entry = { filter, handler };
      handlers.add(entry);
      try {
        const granted = await client.subscribeAsync(filter, { qos: options.qos ?? 1 });
        if (granted.some((grant) => grant.qos === 128)) throw new Error(`broker refused ${filter}`);
      } catch (cause) {
        handlers.delete(entry);
        throw transportError(`subscribe to ${filter}`, cause);
      }
      return async () => {
        handlers.delete(entry);
        if (closed) return;
        if (![...handlers].some((other) => other.filter === filter)) await client.unsubscribeAsync(filter);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      handlers.clear();
      await client.endAsync();
    },
  };
}

/** Connects with mqtt.js and resolves once the broker accepted the connection. */
export async function connectMqtt(url: string, options: IClientOptions = {}): Promise<MqttConnection> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 1_000, ...options });
    return fromMqttClient(client);
  } catch (cause) {
    throw transportError('connect', cause);
  }
}
