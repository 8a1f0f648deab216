/**
 * The cloud side of Degu (docs/cloud/degu.md): orders into AWS IoT Device Shadows, statuses from
 * the devices' reported MD5s into a fleet. Browser-safe.
 *
 * @module
 */
export {
  createDeguPublisher,
  type DeguCallOptions,
  type DeguClearedEvent,
  DeguPublisher,
  type DeguPublisherEvents,
  type DeguPublisherOptions,
  type DeguReadResult,
  type DeguStaleEvent,
  type DeguSuccessEvent,
  type DeguVersions,
  type DeguWaitOptions,
  type DeguWaitResult,
  type DeguWriteResult,
} from './publisher.js';
export {
  type DeguShadow,
  type DeguShadowFactory,
  type HttpShadowsOptions,
  httpShadows,
  type MqttShadowsOptions,
  mqttShadows,
} from './shadows.js';
export type { DeguThing, DeguThings } from './targets.js';
