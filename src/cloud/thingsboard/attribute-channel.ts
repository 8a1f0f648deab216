/**
 * The ThingsBoard protocol's cloud messages (`cloud.encodeOrder`, `cloud.encodeWithdrawal`) are
 * attribute updates of one device's session: `v1/devices/me/attributes` with the `fw_*` keys, or
 * `{"deleted": […]}`. The topic names no device (every ThingsBoard device says "me"), so they
 * cannot go to a broker as they are: this channel, bound to one device, turns each into the
 * backend call that makes ThingsBoard push it to that device (save or delete shared attributes).
 *
 * @module
 */
import { ManifestError, OtaError } from '../../core/errors.js';
import { isRecord } from '../../core/record.js';
import type { JsonValue } from '../../core/store.js';
import { ATTRIBUTES_TOPIC } from '../../protocols/thingsboard/topics.js';
import type { Channel, ChannelSendOptions, WireMessage } from '../../transport/channel.js';
import type { ThingsBoardBackend } from './backend.js';

const WHAT = 'ThingsBoard attribute update';

/** The attributes set, or the keys deleted, by one attribute update. */
export function readAttributeUpdate(
  payload: string,
): { save: Record<string, JsonValue> } | { delete: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    throw new ManifestError(WHAT, [{ path: 'payload', expected: 'a JSON object' }]);
  }
  if (!isRecord(value)) throw new ManifestError(WHAT, [{ path: 'payload', expected: 'a JSON object' }]);
  // Every value under a JSON.parse result is JSON.
  const { deleted, ...saved } = value as Record<string, JsonValue>;
  if (deleted === undefined) return { save: saved };
  if (
    !Array.isArray(deleted) ||
    !deleted.every((key) => typeof key === 'string') ||
    Object.keys(saved).length > 0
  ) {
    throw new ManifestError(WHAT, [{ path: 'deleted', expected: 'a list of attribute keys, alone' }]);
  }
  return { delete: deleted };
}

/**
 * A channel that delivers ThingsBoard attribute updates to the device `deviceId` through
 * `backend`. Give it to `createUpdatePublisher` as the `mqtt` channel of a publisher for that device.
 */
export function thingsBoardAttributeChannel(backend: ThingsBoardBackend, deviceId: string): Channel {
  return {
    kind: 'mqtt',
    async send(message: WireMessage, options: ChannelSendOptions = {}) {
      if (message.channel !== 'mqtt' || message.address !== ATTRIBUTES_TOPIC) {
        throw new OtaError(
          'CONFIG',
          `The ThingsBoard attribute channel carries ${ATTRIBUTES_TOPIC} updates only, not a ${message.channel} message`,
        );
      }
      const update = readAttributeUpdate(message.payload);
      const call = options.signal === undefined ? {} : { signal: options.signal };
      if ('save' in update) await backend.saveSharedAttributes(deviceId, update.save, call);
      else await backend.deleteSharedAttributes(deviceId, update.delete, call);
      return undefined;
    },
  };
}
