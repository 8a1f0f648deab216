/**
 * The MQTT side of one device of the local Murano service, over a connection the caller gives
 * (a broker where the device's `$resource/…` topics are its own): `config_otau` is kept retained
 * on `$resource/config_otau/<µs>` (the one before is cleared), so a device that subscribes gets it
 * as Murano syncs a device at connect; the device's publications on `$resource/<alias>` become its
 * writes, as its HTTP writes do.
 *
 * @module
 */
import { CONFIG_OTAU } from '../../protocols/exosite/alias.js';
import { parseResourceTopic, resourceChangeTopic } from '../../protocols/exosite/topics.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';
import type { DeviceRegistry } from './exosite-registry.js';

/** Bridges `identity`'s resources to `connection`; resolves once subscribed, with the function that detaches. */
export async function bridgeMqtt(
  registry: DeviceRegistry,
  identity: string,
  connection: MqttConnection,
  onError: (error: unknown) => void,
): Promise<() => Promise<void>> {
  let topic: string | undefined;
  let publishing: Promise<void> = Promise.resolve();
  const mirror = (value: string, atMs: number) => {
    publishing = publishing.then(async () => {
      const previous = topic;
      topic = resourceChangeTopic(CONFIG_OTAU, atMs * 1000);
      await connection.publish(topic, value, { qos: 1, retain: true });
      // Cleared after the new one is out: a subscriber meanwhile sees the old one, then a newer one.
      if (previous !== undefined && previous !== topic) {
        await connection.publish(previous, '', { qos: 1, retain: true });
      }
    });
    return publishing.catch(onError);
  };
  const stopSets = registry.onSet((change) => {
    if (change.identity === identity && change.alias === CONFIG_OTAU) void mirror(change.value, change.atMs);
  });
  const unsubscribe = await connection.subscribe('$resource/+', (message) => {
    let alias: string;
    try {
      alias = parseResourceTopic(message.topic).alias;
    } catch (error) {
      return onError(error);
    }
    const value = new TextDecoder().decode(message.payload);
    registry.report(identity, { [alias]: value }).catch(onError);
  });
  const current = registry.resource(identity, CONFIG_OTAU);
  if (current?.set !== undefined && current.set !== '') await mirror(current.set, current.setAtMs ?? 0);
  return async () => {
    stopSets();
    await unsubscribe();
  };
}
