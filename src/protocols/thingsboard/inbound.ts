/**
 * Incoming messages as the protocol object receives them: checked for shape before anything is
 * read, classified by the topic or URL they came from, and decoded so that whatever arrives ends
 * in a result or a `ManifestError`, never a raw `TypeError` or `RangeError`.
 *
 * @module
 */
import * as z from 'zod';
import { ManifestError, OtaError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import type { InboundMessage } from '../contract.js';
import { ATTRIBUTES_TOPIC, parseAttributeResponseTopic, TELEMETRY_TOPIC } from './topics.js';

const InboundSchema = z.object({
  address: z.string().max(4096, { error: 'a topic or URL of at most 4096 characters' }),
  payload: z.union([z.string(), z.instanceof(Uint8Array)], { error: 'text or bytes' }),
  status: z.number().int().optional(),
});

/** `message`, checked to be an {@link InboundMessage}. @throws ManifestError naming the field. */
export function readInbound(message: unknown, what: string): InboundMessage {
  return parseWith(InboundSchema, message, what) as InboundMessage;
}

/** Whether a message body is empty (an empty retained message, an empty HTTP answer). */
export function isEmptyPayload(payload: string | Uint8Array): boolean {
  return payload.length === 0;
}

/** How an order-carrying message is shaped, judged from where it came from. */
export type OrderAddressKind = 'push' | 'response';

// The HTTP device API: `<base>/api/v1/<token>/<resource>[?query]`.
const HTTP_ATTRIBUTES = /\/api\/v1\/[^/?#]+\/attributes(?:\?[^#]*)?$/;
const HTTP_ATTRIBUTE_UPDATES = /\/api\/v1\/[^/?#]+\/attributes\/updates(?:\?[^#]*)?$/;
const HTTP_TELEMETRY = /\/api\/v1\/[^/?#]+\/telemetry(?:\?[^#]*)?$/;

/**
 * `push` for a flat attribute update (`v1/devices/me/attributes`, the HTTP long poll
 * `…/attributes/updates`), `response` for an answer to an attribute request
 * (`v1/devices/me/attributes/response/<id>`, HTTP `GET …/attributes?sharedKeys=…`), `undefined`
 * for any other address.
 */
export function orderAddressKind(address: string): OrderAddressKind | undefined {
  if (address === ATTRIBUTES_TOPIC || HTTP_ATTRIBUTE_UPDATES.test(address)) return 'push';
  if (parseAttributeResponseTopic(address) !== undefined || HTTP_ATTRIBUTES.test(address)) return 'response';
  return undefined;
}

/** Whether telemetry arrives at `address`: the MQTT topic, or the HTTP device API's telemetry URL. */
export function isTelemetryAddress(address: string): boolean {
  return address === TELEMETRY_TOPIC || HTTP_TELEMETRY.test(address);
}

/**
 * Runs a decoder; whatever it throws that is not a `ManifestError` (a `TypeError` from a hostile
 * value, a `RangeError` from a runaway input, a `CONFIG` error) becomes one, with a fixed message:
 * the cause's own text could quote the input, and the input may hold a token.
 */
export function decodeGuarded<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof ManifestError) throw error;
    const expected = error instanceof OtaError ? 'a well-formed value' : 'a well-formed message';
    throw new ManifestError(what, [{ path: '', expected }], { cause: error });
  }
}
