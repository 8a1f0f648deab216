/**
 * The MQTT channel: wire messages over any {@link MqttConnection} (`connectMqtt` of
 * `otakit/mqtt`, or your own binding). Reconnecting, resubscribing and the offline queue are the
 * connection's business; this only maps messages and subscriptions.
 *
 * @example
 * ```ts
 * import { mqttChannel } from 'otakit'
 * import { connectMqtt } from 'otakit/mqtt'
 *
 * const mqtt = mqttChannel(await connectMqtt('mqtts://broker.example:8883', { clientId: 'gw-7' }))
 * ```
 *
 * @module
 */
import { OtaError } from '../core/errors.js';
import type { InboundMessage, WireMessage, WireSource } from '../protocols/contract.js';
import type { Channel, ChannelSendOptions, StopListening } from './channel.js';
import type { MqttConnection } from './mqtt-connection.js';

export interface MqttChannel extends Channel {
  readonly kind: 'mqtt';
  /** The connection it publishes on. */
  readonly connection: MqttConnection;
}

export function mqttChannel(connection: MqttConnection): MqttChannel {
  return {
    kind: 'mqtt',
    connection,
    async send(message: WireMessage, options: ChannelSendOptions = {}) {
      options.signal?.throwIfAborted();
      await connection.publish(message.address, message.payload, {
        qos: message.qos ?? 1,
        retain: message.retain ?? false,
      });
      return undefined;
    },
    async listen(source: WireSource, onMessage: (message: InboundMessage) => void): Promise<StopListening> {
      if (source.channel !== 'mqtt') {
        throw new OtaError('CONFIG', `The MQTT channel cannot listen to a ${source.channel} source`);
      }
      return connection.subscribe(
        source.filter,
        (message) =>
          onMessage({ address: message.topic, payload: message.payload, retained: message.retain }),
        { qos: source.qos ?? 1 },
      );
    },
  };
}
