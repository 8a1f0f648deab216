/**
 * What `publish` and `watch` share: the MQTT platforms they speak, the generic update publisher
 * over one broker connection, and a fleet that follows the device's statuses.
 *
 * @module
 */
import type { Fleet } from '../cloud/fleet/fleet.js';
import type { UpdatePublisher } from '../cloud/publisher.js';
import type { MqttConnection } from '../transport/mqtt-connection.js';
import { connectBroker, type MqttCliOptions } from './mqtt-options.js';
import { type PlatformName, protocolOf } from './platforms.js';

/** Platforms whose orders and statuses travel over MQTT only. */
export const MQTT_PLATFORMS = ['insighio', 'degu'] as const satisfies readonly PlatformName[];

export type MqttPlatform = (typeof MQTT_PLATFORMS)[number];

export interface PlatformSession {
  connection: MqttConnection;
  fleet: Fleet;
  publisher: UpdatePublisher<unknown>;
  /** Stops watching and closes the connection. */
  close(): Promise<void>;
}

export async function openPlatform(
  platform: MqttPlatform,
  options: MqttCliOptions,
  role: string,
): Promise<PlatformSession> {
  const { Fleet } = await import('../cloud/fleet/fleet.js');
  const { createUpdatePublisher } = await import('../cloud/publisher.js');
  const { mqttChannel } = await import('../transport/mqtt-channel.js');
  const protocol = await protocolOf(platform);
  const connection = await connectBroker(options, role);
  const fleet = new Fleet();
  const publisher = createUpdatePublisher<unknown>({
    protocol: protocol as never,
    channels: { mqtt: mqttChannel(connection) },
    fleet,
  });
  return {
    connection,
    fleet,
    publisher,
    async close() {
      await publisher.close();
      await connection.close();
    },
  };
}
