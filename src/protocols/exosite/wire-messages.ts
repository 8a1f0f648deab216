/**
 * The builders of `http.ts` and `topics.ts` describe requests and publications in their own
 * shapes; the protocol contract speaks {@link WireMessage}. These turn one into the other for a
 * target, so the contract reuses the hardened builders instead of spelling paths and headers again.
 *
 * @module
 */
import type { WireMessage } from '../contract.js';
import { deviceApiOrigin, type ExositeRequest } from './http.js';
import type { Target } from './target.js';

/** `https://<productId>.<domain>` of `target`. */
export function targetOrigin(target: Target): string {
  return deviceApiOrigin(target.productId, target.domain === undefined ? {} : { domain: target.domain });
}

/** The contract's form of a device API request: absolute URL, lower-case header names. */
export function httpMessage(request: ExositeRequest, target: Target): WireMessage {
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const message: WireMessage = {
    channel: 'http',
    address: `${targetOrigin(target)}${request.path}`,
    payload: request.body ?? '',
    method: request.method,
    headers,
  };
  return message;
}

/** An MQTT publication of a resource value. */
export function mqttMessage(topic: string, payload: string): WireMessage {
  return { channel: 'mqtt', address: topic, payload };
}
