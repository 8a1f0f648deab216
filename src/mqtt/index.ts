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
import type { IClientOptions, MqttClient } from 'mqtt';
import { TransportError } from '../core/errors.js';
import {
  type MqttConnection,
  type MqttMessage,
  type MqttPublishOptions,
  type MqttQos,
  topicMatches,
} from '../transport/mqtt-connection.js';
import { mqtt } from './load-mqtt.js';

export type {
  MqttConnection,
  MqttMessage,
  MqttPublishOptions,
  MqttQos,
} from '../transport/mqtt-connection.js';
export { topicMatches } from '../transport/mqtt-connection.js';

/**
 * CONNACK codes that another attempt with the same settings cannot fix: bad protocol version,
 * client id, credentials or authorisation (MQTT 3.1.1 return codes 1, 2, 4, 5; MQTT 5 reason codes
 * 0x84–0x87 and 0x8C). Retrying them only hammers the broker with the same wrong credentials.
 */
const PERMANENT_CONNACK_CODES = new Set([1, 2, 4, 5, 0x84, 0x85, 0x86, 0x87, 0x8c]);

/** Credentials never appear in messages: mqtt.js errors are reduced to their message. */
function transportError(what: string, cause: unknown): TransportError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  const permanent = typeof code === 'number' && PERMANENT_CONNACK_CODES.has(code);
  return new TransportError(`MQTT ${what} failed: ${reason}`, {
    cause,
    ...(permanent ? { retryable: false } : {}),
  });
}

/**
 * Wraps a connected (or connecting) mqtt.js client. Handlers are dispatched by topic filter,
 * so several subscriptions can share one client.
 */
export function fromMqttClient(client: MqttClient): MqttConnection {
  const handlers = new Set<{ filter: string; handler: (message: MqttMessage) => void }>();
  /**
   * Set once no packet can flow any more: `close()` was called, the client ended, or it lost the
   * connection with reconnecting off. mqtt.js never settles the calls waiting at that point (they
   * wait for a reconnect that will not come), so otakit rejects them, and every later call.
   */
  let stopReason: string | undefined;
  const waiting = new Set<() => void>();
  const stop = (reason: string) => {
    stopReason ??= reason;
    for (const reject of waiting) reject();
    waiting.clear();
  };
  const stoppedError = (what: string) =>
    new TransportError(`MQTT ${what} failed: ${stopReason}`, { retryable: false });
  client.on('close', () => {
    if (!client.options.reconnectPeriod) stop('the connection was lost and reconnecting is off');
  });
  client.on('end', () => stop('the connection is closed'));
  /** Runs a client call that settles, or rejects when the connection stops first. */
  const settled = <T>(what: string, call: () => Promise<T>): Promise<T> => {
    if (stopReason !== undefined) return Promise.reject(stoppedError(what));
    return new Promise<T>((resolve, reject) => {
      const onStop = () => reject(stoppedError(what));
      waiting.add(onStop);
      call().then(
        (value) => {
          waiting.delete(onStop);
          resolve(value);
        },
        (cause: unknown) => {
          waiting.delete(onStop);
          reject(transportError(what, cause));
        },
      );
    });
  };
  let closing: Promise<void> | undefined;
  client.on('message', (topic, payload, packet) => {
    const message: MqttMessage = { topic, payload: new Uint8Array(payload), retain: packet.retain };
    for (const entry of handlers) if (topicMatches(entry.filter, topic)) entry.handler(message);
  });
  return {
    async publish(topic: string, payload: string | Uint8Array, options: MqttPublishOptions = {}) {
      await settled(`publish to ${topic}`, () =>
        client.publishAsync(topic, typeof payload === 'string' ? payload : Buffer.from(payload), {
          qos: options.qos ?? 1,
          retain: options.retain ?? false,
        }),
      );
    },
    async subscribe(
      filter: string,
      handler: (message: MqttMessage) => void,
      options: { qos?: MqttQos } = {},
    ) {
      const entry = { filter, handler };
      handlers.add(entry);
      try {
        await settled(`subscribe to ${filter}`, async () => {
          const grants = await client.subscribeAsync(filter, { qos: options.qos ?? 1 });
          if (grants.some((grant) => grant.qos === 128)) throw new Error(`broker refused ${filter}`);
        });
      } catch (error) {
        handlers.delete(entry);
        throw error;
      }
      return async () => {
        handlers.delete(entry);
        if (stopReason !== undefined) return;
        if (![...handlers].some((other) => other.filter === filter)) {
          await settled(`unsubscribe from ${filter}`, () => client.unsubscribeAsync(filter));
        }
      };
    },
    close() {
      closing ??= (async () => {
        handlers.clear();
        const connected = client.connected;
        stop('the connection is closed');
        // A disconnected client's end() would wait for its outgoing queue, which can no longer
        // drain: force it. A connected one ends cleanly, sending what is queued.
        await client.endAsync(!connected);
      })();
      return closing;
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
