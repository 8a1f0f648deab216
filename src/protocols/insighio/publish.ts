/**
 * The MQTT publications of the insigh.io OTA flow, ready for `MqttConnection.publish(topic,
 * payload, options)`: the console's retained order, a device's non-retained status, and the
 * empty retained payload that clears the order. Pure data: the codec never imports a transport.
 *
 * @module
 */
import type { ControlIds } from './ids.js';
import { encodeOrder, encodeStatus } from './messages.js';
import type { OtaOrder, OtaStatus } from './schemas.js';
import { clearsOrder, type ReportableStatus, statusToWire } from './status.js';
import { otaTopic } from './topics.js';

/** How a publication is sent: every insigh.io OTA message goes with QoS 1. */
export interface PublicationOptions {
  qos: 0 | 1;
  /** Kept on the broker for later subscribers (the order, and the empty payload that clears it). */
  retain: boolean;
}

/** One MQTT publish: `connection.publish(p.topic, p.payload, p.options)`. */
export interface Publication {
  topic: string;
  /** The SenML text, or `''` to clear the retained order. */
  payload: string;
  options: PublicationOptions;
}

/** The order, published retained (QoS 1) so a sleeping device finds it when it next subscribes. */
export function orderPublication(ids: ControlIds, order: OtaOrder): Publication {
  return { topic: otaTopic(ids), payload: encodeOrder(order), options: { qos: 1, retain: true } };
}

/** A device status, published non-retained with QoS 1, as the firmware does. */
export function statusPublication(ids: ControlIds, status: OtaStatus): Publication {
  return { topic: otaTopic(ids), payload: encodeStatus(status), options: { qos: 1, retain: false } };
}

/**
 * An empty retained payload on the OTA topic: removes the retained order from the broker. The
 * device sends it once the order is done with; the console (or a service) can send it to withdraw
 * an order that has not been picked up (the presumed cancel, see docs/protocols/insighIo.md).
 */
export function clearPublication(ids: ControlIds): Publication {
  return { topic: otaTopic(ids), payload: '', options: { qos: 1, retain: true } };
}

/**
 * Everything a device publishes for one canonical status, in the firmware's order: the status,
 * then (after success, an apply failure, a rollback or a cancel) the clear. Status first, so a
 * device that dies in between leaves the order retained (and retries it) rather than clearing it
 * without a word. Empty when insigh.io has nothing to say for the state.
 *
 * @example
 * ```ts
 * for (const p of insighIo.reportPublications(ids, { state: 'committed', updateId: 'fa8884d2' })) {
 *   await connection.publish(p.topic, p.payload, p.options)
 * }
 * ```
 */
export function reportPublications(
  ids: ControlIds,
  status: ReportableStatus,
  options: { message?: string } = {},
): Publication[] {
  const wire = statusToWire(status, options);
  if (wire === null) return [];
  const publications = [statusPublication(ids, wire)];
  if (clearsOrder(status.state)) publications.push(clearPublication(ids));
  return publications;
}
