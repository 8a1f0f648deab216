/**
 * The shape check every received message passes before the Connhex codecs read it: a channel
 * layer (or a caller) may hand over anything, and a wrong shape must become a `ManifestError`
 * naming the field, never a `TypeError` further in.
 *
 * @module
 */
import * as z from 'zod';
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { LIMITS } from './limits.js';

const InboundMessageSchema = z.object({
  address: z.string().max(LIMITS.maxAddressLength),
  payload: z.union([z.string(), z.instanceof(Uint8Array)], { error: 'UTF-8 text or bytes' }),
  status: z.number().int().min(100).max(599).optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

/** A received message (`InboundMessage` of the contract) whose shape was checked. */
export type CheckedInbound = z.output<typeof InboundMessageSchema>;

/**
 * Checks the shape of `message` (a real object with a string address, a text or byte payload,
 * an integer HTTP status and string headers where present).
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming the field, as `Invalid <what>: …`.
 */
export function checkInbound(message: unknown, what: string): CheckedInbound {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new ManifestError(what, [{ path: '', expected: 'a received message { address, payload }' }]);
  }
  return parseWith(InboundMessageSchema, message, what);
}

/** Whether a payload is empty (no bytes, or `''`). */
export function isEmptyPayload(payload: string | Uint8Array): boolean {
  return payload.length === 0;
}
