/**
 * The shape check both decoders of the protocol object run first: an inbound message reaches
 * them from a channel, a test or a user's own plumbing, so anything (null, a number, an object
 * without payload) becomes a `ManifestError` naming the field, never a `TypeError`.
 *
 * @module
 */
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { parseShadowTopic, type ShadowTopic } from './topics.js';

/** An inbound message whose address and payload have the types the contract promises. */
export interface CheckedInbound {
  address: string;
  payload: string | Uint8Array;
  /** The shadow topic the address names; `undefined` for any other address. */
  topic: ShadowTopic | undefined;
}

/**
 * `message` with its address and payload checked, and its address parsed as a shadow topic.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming each field that has the wrong type.
 */
export function checkInbound(message: unknown, what: string): CheckedInbound {
  if (typeof message !== 'object' || message === null) {
    throw new ManifestError(what, [{ path: '', expected: 'a message with address and payload' }]);
  }
  const { address, payload } = message as { address?: unknown; payload?: unknown };
  const issues: ValidationIssue[] = [];
  if (typeof address !== 'string') issues.push({ path: 'address', expected: 'a string' });
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    issues.push({ path: 'payload', expected: 'text or bytes' });
  }
  if (issues.length > 0) throw new ManifestError(what, issues);
  return {
    address: address as string,
    payload: payload as string | Uint8Array,
    topic: parseShadowTopic(address as string),
  };
}
