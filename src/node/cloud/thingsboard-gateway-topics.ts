/**
 * Which topics a device may use on the local ThingsBoard gateway: those of ThingsBoard's MQTT
 * device API for attributes, telemetry, RPC and package transfers, and nothing else (ThingsBoard
 * closes a session that publishes elsewhere; the gateway refuses the publish or the subscription).
 *
 * @module
 */

const SUBSCRIBE = [
  /^v1\/devices\/me\/attributes$/,
  /^v1\/devices\/me\/attributes\/response\/(\+|\d{1,10})$/,
  /^v1\/devices\/me\/rpc\/request\/\+$/,
  /^v2\/(fw|sw)\/response\/(\+|\d{1,10})\/chunk\/(\+|\d{1,10})$/,
  /^v2\/(fw|sw)\/error$/,
];

const PUBLISH = [
  /^v1\/devices\/me\/telemetry$/,
  /^v1\/devices\/me\/attributes$/,
  /^v1\/devices\/me\/attributes\/request\/\d{1,10}$/,
  /^v1\/devices\/me\/rpc\/response\/\d{1,10}$/,
  /^v2\/(fw|sw)\/request\/\d{1,10}\/chunk\/\d{1,10}$/,
];

/** Whether a device may subscribe to `filter`. */
export function mayDeviceSubscribe(filter: string): boolean {
  return SUBSCRIBE.some((pattern) => pattern.test(filter));
}

/** Whether a device may publish on `topic`. */
export function mayDevicePublish(topic: string): boolean {
  return PUBLISH.some((pattern) => pattern.test(topic));
}

/** `v1/devices/me/attributes/request/<id>` → `<id>`, else `undefined`. */
export function attributeRequestId(topic: string): string | undefined {
  return /^v1\/devices\/me\/attributes\/request\/(\d{1,10})$/.exec(topic)?.[1];
}
