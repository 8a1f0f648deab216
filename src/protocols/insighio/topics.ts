/**
 * Topics and MQTT connection settings of insigh.io (Mainflux conventions): a device's control
 * messages live under `channels/<control-channel-id>/messages/<device-id>`, OTA under `/ota`.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import {
  type ControlIds,
  ControlIdsSchema,
  DeviceKeySchema,
  ID_PATTERN,
  parseConfig,
  SubtopicSchema,
} from './ids.js';
import { LIMITS } from './limits.js';

/** The OTA subtopic of a device's control topic. */
export const OTA_SUBTOPIC = 'ota';

/**
 * Where the console's MQTT broker listens. Plain TCP on 1884, as the firmware connects: there is
 * no documented TLS port, so credentials travel in clear (docs/protocols/insighIo.md); prefer a TLS
 * endpoint if your deployment offers one.
 */
export const MQTT_BROKER = { host: 'console.insigh.io', port: 1884, tls: false } as const;

/** Keep-alive the firmware uses when its configuration sets none, in seconds. */
export const DEFAULT_KEEPALIVE_SECONDS = 120;

/**
 * The control topic of a device, optionally with a subtopic:
 * `channels/<controlChannelId>/messages/<deviceId>[/<subtopic>]`.
 * @throws OtaError (`CONFIG`) when an id is empty, too long, or holds anything but letters,
 * digits, `-` and `_` (so `/`, `+` and `#` cannot alter the topic).
 */
export function controlTopic(ids: ControlIds, subtopic?: string): string {
  const valid = parseConfig(ControlIdsSchema, ids, 'insigh.io control ids');
  const base = `channels/${valid.controlChannelId}/messages/${valid.deviceId}`;
  if (subtopic === undefined) return base;
  return `${base}/${parseConfig(SubtopicSchema, subtopic, 'insigh.io control subtopic')}`;
}

/**
 * The OTA topic of a device: `channels/<controlChannelId>/messages/<deviceId>/ota`. The console
 * publishes the order there (retained); the device publishes its status and clears the order there.
 *
 * @example
 * ```ts
 * insighIo.otaTopic({ controlChannelId: cc, deviceId: did }) // 'channels/<cc>/messages/<did>/ota'
 * ```
 */
export function otaTopic(ids: ControlIds): string {
  return controlTopic(ids, OTA_SUBTOPIC);
}

/**
 * What a device subscribes to: every control subtopic, `channels/<cc>/messages/<did>/#`. The
 * firmware takes the first message that arrives within 5 s of subscribing.
 */
export function controlSubscription(ids: ControlIds): string {
  return `${controlTopic(ids)}/#`;
}

/** A control topic taken apart. */
export interface ControlTopic extends ControlIds {
  /** The subtopic after the device id (`ota`, `config`, ...), or `null` for the bare topic. */
  subtopic: string | null;
}

const TOPIC_PATTERN = /^channels\/([^/]+)\/messages\/([^/]+)(?:\/([^/]+))?$/;

/**
 * Parses a control topic as received from the broker. Refuses wildcards, extra levels and ids
 * outside {@link ID_PATTERN}, so what it returns can be used to build other topics safely.
 * @throws ManifestError (`MANIFEST_INVALID`) naming what was expected.
 */
export function parseControlTopic(topic: string): ControlTopic {
  const what = 'insigh.io control topic';
  const expected =
    'channels/<channel-id>/messages/<device-id>[/<subtopic>] with ids of letters, digits, "-", "_"';
  if (typeof topic !== 'string' || topic.length > LIMITS.maxTopicLength) {
    throw new ManifestError(what, [
      { path: '', expected: `a topic of at most ${LIMITS.maxTopicLength} characters` },
    ]);
  }
  const match = TOPIC_PATTERN.exec(topic);
  const [, controlChannelId, deviceId, subtopic] = match ?? [];
  const ok = (part: string | undefined) =>
    part !== undefined && ID_PATTERN.test(part) && part.length <= LIMITS.maxIdLength;
  if (!ok(controlChannelId) || !ok(deviceId) || (subtopic !== undefined && !ok(subtopic))) {
    throw new ManifestError(what, [{ path: '', expected }]);
  }
  return { controlChannelId: controlChannelId!, deviceId: deviceId!, subtopic: subtopic ?? null };
}

/**
 * Parses an OTA topic, `channels/<cc>/messages/<did>/ota`, into its ids.
 * @throws ManifestError when the topic is not a well-formed OTA topic.
 */
export function parseOtaTopic(topic: string): ControlIds {
  const parsed = parseControlTopic(topic);
  if (parsed.subtopic !== OTA_SUBTOPIC) {
    throw new ManifestError('insigh.io OTA topic', [
      { path: '', expected: 'a control topic ending in /ota' },
    ]);
  }
  return { controlChannelId: parsed.controlChannelId, deviceId: parsed.deviceId };
}

/** Whether `topic` is a well-formed OTA topic (never throws). */
export function isOtaTopic(topic: string): boolean {
  try {
    parseOtaTopic(topic);
    return true;
  } catch {
    return false;
  }
}

/** A device's identity: its ids and its key. */
export interface DeviceIdentity extends ControlIds {
  /** The Mainflux thing key. A secret. */
  deviceKey: string;
}

/** What to pass to an MQTT client to connect as a device. */
export interface ConnectSettings {
  host: string;
  port: number;
  /** The device id (Mainflux thing id). */
  username: string;
  /** The device key. A secret: it is here because the MQTT client needs it; never log this object. */
  password: string;
  /** Seconds. */
  keepalive: number;
}

/**
 * MQTT connection settings of a device (vector I1): user name = device id, password = device
 * key, the console broker unless `broker` overrides it.
 * @throws OtaError (`CONFIG`) for an invalid id or key (the message never contains the key).
 */
export function connectSettings(
  identity: DeviceIdentity,
  options: { broker?: { host: string; port: number }; keepalive?: number } = {},
): ConnectSettings {
  const ids = parseConfig(ControlIdsSchema, identity, 'insigh.io device identity');
  const password = parseConfig(DeviceKeySchema, identity.deviceKey, 'insigh.io device key');
  const broker = options.broker ?? MQTT_BROKER;
  return {
    host: broker.host,
    port: broker.port,
    username: ids.deviceId,
    password,
    keepalive: options.keepalive ?? DEFAULT_KEEPALIVE_SECONDS,
  };
}
