/**
 * The shape check the protocol object's decoders run first. An inbound message reaches them from
 * a channel, a test or a user's own plumbing, so anything (null, a number, an object without a
 * payload, a topic of another device) becomes a `ManifestError` naming the field, never a
 * `TypeError`.
 *
 * @module
 */
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import type { InboundMessage } from '../contract.js';
import type { ControlIds } from './ids.js';
import { type ControlTopic, parseControlTopic } from './topics.js';

/** An inbound message on a control topic of the expected device. */
export interface CheckedInbound {
  topic: ControlTopic;
  payload: string | Uint8Array;
}

/**
 * `message` with its payload type checked and its address parsed as a control topic of `ids`.
 * @throws ManifestError (`MANIFEST_INVALID`) for a message that is not an object, a payload that
 *   is neither text nor bytes, or an address that is not a control topic of this device.
 */
export function checkInbound(message: unknown, ids: ControlIds, what: string): CheckedInbound {
  if (typeof message !== 'object' || message === null) {
    throw new ManifestError(what, [{ path: '', expected: 'a message with address and payload' }]);
  }
  const { address, payload } = message as Partial<InboundMessage>;
  const issues: ValidationIssue[] = [];
  if (typeof address !== 'string') issues.push({ path: 'address', expected: 'a topic' });
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    issues.push({ path: 'payload', expected: 'text or bytes' });
  }
  if (issues.length > 0) throw new ManifestError(what, issues);

  let topic: ControlTopic;
  try {
    topic = parseControlTopic(address as string);
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    throw new ManifestError(what, [
      {
        path: 'address',
        expected: 'a control topic channels/<channel-id>/messages/<device-id>[/<subtopic>]',
      },
    ]);
  }
  if (topic.controlChannelId !== ids.controlChannelId || topic.deviceId !== ids.deviceId) {
    throw new ManifestError(what, [
      {
        path: 'address',
        expected: `a control topic of device ${ids.deviceId} on channel ${ids.controlChannelId}`,
      },
    ]);
  }
  return { topic, payload: payload as string | Uint8Array };
}
