/**
 * The MQTT connection options of an insigh.io device: user name = device id, password = device
 * key, as the console's Mainflux broker expects (docs/protocols/insighIo.md, vector I1). Plain
 * data shaped like mqtt.js `IClientOptions`, so this module needs no MQTT client.
 *
 * @module
 */
import * as z from 'zod';
import { DeviceIdSchema, DeviceKeySchema, parseConfig } from '../../protocols/insighio/ids.js';
import { DEFAULT_KEEPALIVE_SECONDS } from '../../protocols/insighio/topics.js';

/** Who connects. */
export interface InsighioMqttSettings {
  /** The device (Mainflux thing) id: the MQTT user name. */
  deviceId: string;
  /** The device (thing) key: the MQTT password. A secret. */
  deviceKey: string;
  /**
   * The MQTT client id. The broker drops an older connection with the same id, so give every
   * process its own.
   * @default deviceId
   */
  clientId?: string;
  /**
   * Keep-alive in seconds.
   * @default 120 (the firmware's default)
   */
  keepalive?: number;
}

/**
 * Options for `connectMqtt(url, options)` (or mqtt.js `connect`). Printing them (`console.log`,
 * `JSON.stringify`, `util.inspect`) shows `password: '***'`; spreading them into other options
 * keeps the real password, which is what the MQTT client needs.
 */
export interface InsighioMqttOptions {
  username: string;
  password: string;
  clientId: string;
  keepalive: number;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

// Not strict: a target or a `DeviceIdentity` (with its `controlChannelId`) may be passed as is.
const SettingsSchema = z.object({
  deviceId: DeviceIdSchema,
  deviceKey: DeviceKeySchema,
  clientId: z.string().min(1, { error: 'a non-empty client id' }).max(256).optional(),
  keepalive: z.number().int().min(0).max(65_535, { error: 'seconds from 0 to 65535' }).optional(),
});

/**
 * @throws OtaError (`CONFIG`) naming the field for an invalid device id, key or keep-alive; the
 * message never contains the key.
 *
 * @example
 * ```ts
 * import { connectMqtt } from 'otakit/mqtt'
 * import { insighioMqttOptions } from 'otakit/node'
 *
 * const connection = await connectMqtt('mqtt://console.insigh.io:1884', insighioMqttOptions({ deviceId, deviceKey }))
 * ```
 */
export function insighioMqttOptions(settings: InsighioMqttSettings): InsighioMqttOptions {
  const valid = parseConfig(SettingsSchema, settings, 'insigh.io MQTT settings');
  const { deviceId, deviceKey } = valid;
  const clientId = valid.clientId ?? deviceId;
  const keepalive = valid.keepalive ?? DEFAULT_KEEPALIVE_SECONDS;
  const options: InsighioMqttOptions = { username: deviceId, password: deviceKey, clientId, keepalive };
  const shown = () => ({ username: deviceId, password: '***', clientId, keepalive });
  // Not enumerable: a spread into the client's options copies the real fields only.
  Object.defineProperty(options, 'toJSON', { value: shown });
  Object.defineProperty(options, INSPECT, { value: shown });
  return options;
}
