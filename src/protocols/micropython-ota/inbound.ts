/**
 * The shape check every decoder of the protocol object runs first: an inbound message reaches
 * it from a channel, a test or a user's own plumbing, so anything (null, a number, an object
 * missing its payload) becomes a `ManifestError` naming the field, never a `TypeError`.
 *
 * @module
 */
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { isRecord } from '../../core/record.js';
import type { InboundMessage } from '../contract.js';

/** An inbound message whose fields have the types the contract promises. */
export interface CheckedInbound {
  address: string;
  payload: string | Uint8Array;
  /** The HTTP status, when the message is a response. */
  status: number | undefined;
}

/**
 * `message` with its address, payload and status checked.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming each field that has the wrong type.
 */
export function checkInbound(message: unknown, what: string): CheckedInbound {
  if (!isRecord(message)) {
    throw new ManifestError(what, [{ path: '', expected: 'a message with address and payload' }]);
  }
  const { address, payload, status } = message as Partial<InboundMessage>;
  const issues: ValidationIssue[] = [];
  if (typeof address !== 'string') issues.push({ path: 'address', expected: 'a string' });
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    issues.push({ path: 'payload', expected: 'text or bytes' });
  }
  if (status !== undefined && !(Number.isInteger(status) && status >= 100 && status <= 599)) {
    issues.push({ path: 'status', expected: 'an HTTP status (100-599)' });
  }
  if (issues.length > 0) throw new ManifestError(what, issues);
  return { address: address as string, payload: payload as string | Uint8Array, status };
}
