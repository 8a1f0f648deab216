/**
 * The cloud side of ThingsBoard OTA: the publisher (assign packages through shared attributes,
 * follow `fw_state` into a fleet), its backend interface, the REST client for a real ThingsBoard,
 * and the attribute channel that binds the protocol's messages to one device. Browser-safe; the
 * local device gateway for development fleets is in `otakit/node`. See docs/cloud/thingsboard.md.
 *
 * @module
 */
export { readAttributeUpdate, thingsBoardAttributeChannel } from './attribute-channel.js';
export type { BackendCallOptions, DeviceTelemetry, ThingsBoardBackend } from './backend.js';
export { latestToTelemetry } from './latest-telemetry.js';
export {
  createThingsBoardPublisher,
  type ThingsBoardCallOptions,
  ThingsBoardPublisher,
  type ThingsBoardPublisherEvents,
  type ThingsBoardPublisherOptions,
  type ThingsBoardStatusEvent,
  telemetryKeys,
} from './publisher.js';
export {
  createThingsBoardRestClient,
  type ThingsBoardAuth,
  ThingsBoardRestClient,
  type ThingsBoardRestClientOptions,
} from './rest-client.js';
