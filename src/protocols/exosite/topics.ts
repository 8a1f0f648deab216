/**
 * MQTT topics of the Exosite device API (docs/protocols/exosite.md, "MQTT device API"). The device publishes
 * a resource value to `$resource/<alias>`, several timestamped values to `$resource.batch`, and receives
 * changes on `$resource/<alias>/<timestamp>`. Payloads are the resource strings as they are.
 *
 * @module
 */
import { ManifestError, OtaError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { decodeJson, type WireInput } from '../../core/wire.js';
import { assertAlias, isAlias } from './alias.js';
import { LIMITS } from './limits.js';
import { type Batch, type BatchEntry, BatchSchema } from './schemas.js';

/** Topic of timestamped batch writes. */
export const BATCH_TOPIC = '$resource.batch';
/**
 * Subscription that covers every resource change. Murano subscribes devices implicitly; whether
 * an explicit SUBSCRIBE is needed is not documented (docs/protocols/exosite.md), and sending one is harmless.
 */
export const RESOURCE_SUBSCRIPTION = '$resource/#';

const PREFIX = '$resource/';
const TIMESTAMP = /^\d{1,16}$/;
const TOPIC_EXPECTED = '$resource/<alias> or $resource/<alias>/<timestamp>';

/**
 * `$resource/<alias>`: where a device publishes a value.
 *
 * @throws OtaError `CONFIG` for an invalid alias.
 *
 * @example
 * ```ts
 * client.publish(resourceTopic('otau_in'), encodeStatus(status))
 * ```
 */
export function resourceTopic(alias: string): string {
  assertAlias(alias);
  return `${PREFIX}${alias}`;
}

/**
 * `$resource/<alias>/<timestamp>`: the topic a resource change reaches the device on.
 *
 * @param timestamp Microseconds since the epoch, a non-negative safe integer.
 */
export function resourceChangeTopic(alias: string, timestamp: number): string {
  assertAlias(alias);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new OtaError('CONFIG', 'Invalid resource timestamp: expected a non-negative integer');
  }
  return `${PREFIX}${alias}/${timestamp}`;
}

/** A parsed resource topic. */
export interface ResourceTopic {
  alias: string;
  /** Present on change notifications (`$resource/<alias>/<timestamp>`); microseconds since the epoch. */
  timestamp?: number;
}

/**
 * Parses `$resource/<alias>` or `$resource/<alias>/<timestamp>`.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) for any other topic (wrong prefix, invalid alias,
 *   a timestamp that is not a safe integer, extra levels).
 *
 * @example
 * ```ts
 * parseResourceTopic('$resource/config_otau/1526046488000000')
 * // { alias: 'config_otau', timestamp: 1526046488000000 }
 * ```
 */
export function parseResourceTopic(topic: string): ResourceTopic {
  const parsed = safeParseResourceTopic(topic);
  if (parsed === undefined)
    throw new ManifestError('Exosite MQTT topic', [{ path: '', expected: TOPIC_EXPECTED }]);
  return parsed;
}

/** Like {@link parseResourceTopic}, `undefined` for a topic that is not a resource topic. */
export function safeParseResourceTopic(topic: string): ResourceTopic | undefined {
  if (typeof topic !== 'string' || !topic.startsWith(PREFIX)) return undefined;
  const levels = topic.slice(PREFIX.length).split('/');
  const [alias, timestamp] = levels;
  if (levels.length > 2 || !isAlias(alias)) return undefined;
  if (timestamp === undefined) return { alias };
  const value = TIMESTAMP.test(timestamp) ? Number(timestamp) : Number.NaN;
  if (!Number.isSafeInteger(value)) return undefined;
  return { alias, timestamp: value };
}

/**
 * `$provision/<identity>`: an anonymous client publishes an empty payload here to activate.
 *
 * @throws OtaError `CONFIG` for an identity that is empty, over 128 characters, or holds a topic
 *   separator or wildcard (`/`, `+`, `#`) or a control character.
 */
export function provisionTopic(identity: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  const bad = /[/+#\u0000-\u001f\u007f]/;
  if (typeof identity !== 'string' || identity.length === 0 || identity.length > 128 || bad.test(identity)) {
    throw new OtaError(
      'CONFIG',
      'Invalid Exosite identity: expected 1 to 128 characters without "/", "+", "#"',
    );
  }
  return `$provision/${identity}`;
}

/**
 * Encodes a `$resource.batch` payload. Values are resource strings, so an `otau_in` status is a
 * JSON string inside this JSON (encoded twice).
 *
 * @example
 * ```ts
 * encodeBatch([{ timestamp: Date.now() * 1000, values: { otau_in: encodeStatus(status) } }])
 * ```
 */
export function encodeBatch(entries: readonly BatchEntry[]): string {
  const valid = parseWith(BatchSchema, entries, 'Exosite $resource.batch payload');
  const text = JSON.stringify(valid);
  if (text.length > LIMITS.batchBytes / 3 && new TextEncoder().encode(text).length > LIMITS.batchBytes) {
    throw new ManifestError('Exosite $resource.batch payload', [
      { path: '', expected: `at most ${LIMITS.batchBytes} bytes` },
    ]);
  }
  return text;
}

/**
 * Decodes a `$resource.batch` payload (what a broker or a test sees).
 *
 * @throws ManifestError over {@link LIMITS.batchBytes}, not JSON, or not a batch.
 */
export function decodeBatch(input: WireInput): Batch {
  const what = 'Exosite $resource.batch payload';
  return parseWith(BatchSchema, decodeJson(input, { what, maxBytes: LIMITS.batchBytes }), what);
}

/** A message to publish: topic and payload. */
export interface Publication {
  topic: string;
  payload: string | Uint8Array;
}
