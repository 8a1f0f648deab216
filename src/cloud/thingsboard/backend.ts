/**
 * What the ThingsBoard publisher needs of a ThingsBoard: set and delete a device's shared
 * attributes (ThingsBoard pushes them to the device's MQTT session on `v1/devices/me/attributes`),
 * and hand over the `fw_state` telemetry devices post. Two implementations: the REST API of a real
 * ThingsBoard server (`ThingsBoardRestClient`, statuses polled) and the local device gateway of
 * `otakit/node` (statuses pushed as devices send them).
 *
 * Devices are named by their fleet id: for a real server, ThingsBoard's device id (a UUID, not a
 * secret); for the local gateway, the id the gateway was given with the device's access token.
 * Access tokens never cross this interface.
 *
 * @module
 */
import type { JsonValue } from '../../core/store.js';
import type { InboundMessage } from '../../protocols/contract.js';

/** Options of one backend call. */
export interface BackendCallOptions {
  signal?: AbortSignal;
}

/** One telemetry message a device sent, as the backend received it. */
export interface DeviceTelemetry {
  /** The fleet id of the device that sent it. */
  deviceId: string;
  /** The telemetry as sent: address `v1/devices/me/telemetry`, the JSON body as payload. */
  message: InboundMessage;
}

export interface ThingsBoardBackend {
  /** Sets shared attributes of the device (merged with those it has). */
  saveSharedAttributes(
    deviceId: string,
    attributes: Readonly<Record<string, JsonValue>>,
    options?: BackendCallOptions,
  ): Promise<void>;
  /** Deletes shared attributes of the device (ThingsBoard tells the device `{"deleted": […]}`). */
  deleteSharedAttributes(
    deviceId: string,
    keys: readonly string[],
    options?: BackendCallOptions,
  ): Promise<void>;
  /**
   * Calls `listener` with every telemetry message a device sends; returns the function that stops
   * it. Only backends that see the device sessions have it (the local gateway).
   */
  onTelemetry?(listener: (telemetry: DeviceTelemetry) => void): () => void;
  /**
   * The latest values of `keys` in the device's telemetry, as one telemetry message (`null` when
   * it has none), for backends that can only be asked (the REST API).
   */
  latestTelemetry?(
    deviceId: string,
    keys: readonly string[],
    options?: BackendCallOptions,
  ): Promise<InboundMessage | null>;
}
