/**
 * The publications of `publish.ts` as the contract's wire messages: plain data an MQTT channel
 * sends as is (topic, SenML text, QoS, retain flag).
 *
 * @module
 */
import type { WireMessage } from '../contract.js';
import type { Publication } from './publish.js';

/** `publication` as a {@link WireMessage} on the `mqtt` channel. */
export function toWireMessage(publication: Publication): WireMessage {
  return {
    channel: 'mqtt',
    address: publication.topic,
    payload: publication.payload,
    qos: publication.options.qos,
    retain: publication.options.retain,
  };
}
