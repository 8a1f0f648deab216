/**
 * A received message checked for shape before anything reads it: the contract's callers may be
 * plain JavaScript, and a message from a fuzzer or a broken channel must fail as `MANIFEST_INVALID`,
 * never as a `TypeError` halfway through decoding.
 *
 * @module
 */
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import type { InboundMessage } from '../contract.js';

/** `message` as an {@link InboundMessage}, or a ManifestError naming the field that is wrong. */
export function checkedInbound(message: unknown, what: string): InboundMessage {
  if (typeof message !== 'object' || message === null) {
    throw new ManifestError(what, [{ path: '', expected: 'a message with address and payload' }]);
  }
  const { address, payload, status, headers } = message as Record<string, unknown>;
  // Every broken field at once, so one round trip shows all that is wrong.
  const issues: ValidationIssue[] = [];
  if (typeof address !== 'string') issues.push({ path: 'address', expected: 'a topic or URL string' });
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    issues.push({ path: 'payload', expected: 'text or bytes' });
  }
  if (
    status !== undefined &&
    (!Number.isInteger(status) || (status as number) < 100 || (status as number) > 599)
  ) {
    issues.push({ path: 'status', expected: 'an HTTP status from 100 to 599' });
  }
  if (issues.length > 0) throw new ManifestError(what, issues);
  const checked: InboundMessage = { address: address as string, payload: payload as string | Uint8Array };
  if (status !== undefined) checked.status = status as number;
  if (headers !== undefined && headers !== null && typeof headers === 'object') {
    checked.headers = headers as Record<string, string>;
  }
  return checked;
}
