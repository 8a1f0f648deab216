/**
 * Decoders for every shadow message, straight off the wire (string, bytes, or parsed JSON):
 * byte limit first, then JSON, then a nesting check, then the schema. Every failure is a
 * `ManifestError` (`MANIFEST_INVALID`) naming the path and what was expected there.
 *
 * @module
 */
import type * as z from 'zod';
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { decodeJson, type WireInput } from '../../core/wire.js';
import { jsonDepth } from './json.js';
import { LIMITS } from './limits.js';
import { type DeguBootRequest, DeguBootRequestSchema, type DeguMessages, deguSchemas } from './schemas.js';
import { type ShadowMessageKind, type ShadowMessages, shadowSchemas } from './shadow-schemas.js';
import type { ShadowTopicKind } from './topics.js';

/** Options of every decoder. */
export interface DecodeMessageOptions {
  /**
   * Reject input larger than this many bytes, before parsing.
   * @default LIMITS.messageBytes (128 KB, the AWS IoT Core MQTT payload limit)
   */
  maxBytes?: number;
}

/**
 * `parseWith`, after checking the nesting: zod's recursive walk of `z.json()` would overflow the
 * stack on `[[[[…` (or never end on a cyclic object), and a `RangeError` must not escape.
 * @throws ManifestError
 */
export function parseBounded<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  // Called from plain JavaScript with anything: still a typed error, never a TypeError.
  if (typeof what !== 'string') what = 'value';
  if (typeof (schema as { safeParse?: unknown } | null)?.safeParse !== 'function') {
    throw new ManifestError(what, [{ path: '', expected: 'a zod schema to validate with' }]);
  }
  if (jsonDepth(value, LIMITS.messageDepth) > LIMITS.messageDepth) {
    throw new ManifestError(what, [
      { path: '', expected: `JSON nested at most ${LIMITS.messageDepth} levels` },
    ]);
  }
  return parseWith(schema, value, what);
}

/**
 * The schema of a message kind, looked up as an own key only: `'constructor'` or `'toString'`
 * would otherwise find a function on `Object.prototype`.
 */
function schemaOf<T extends object>(schemas: T, kind: unknown, what: string): T[keyof T] {
  if (typeof kind !== 'string' || !Object.hasOwn(schemas, kind)) {
    throw new ManifestError(what, [
      {
        path: 'kind',
        expected: `one of ${Object.keys(schemas)
          .map((key) => JSON.stringify(key))
          .join(', ')}`,
      },
    ]);
  }
  return schemas[kind as keyof T];
}

function decodeWith<S extends z.ZodType>(
  schema: S,
  input: WireInput,
  what: string,
  options: DecodeMessageOptions,
): z.output<S> {
  return parseBounded(
    schema,
    decodeJson(input, { what, maxBytes: options.maxBytes ?? LIMITS.messageBytes }),
    what,
  );
}

/**
 * Decodes a shadow message with generic (any JSON) state sections.
 *
 * @example
 * ```ts
 * const delta = decodeShadowMessage('update/delta', payload)
 * console.log(delta.version, delta.state)
 * ```
 * @throws ManifestError (`MANIFEST_INVALID`) naming each failing path.
 */
export function decodeShadowMessage<K extends ShadowMessageKind>(
  kind: K,
  input: WireInput,
  options: DecodeMessageOptions = {},
): ShadowMessages[K] {
  const schema = schemaOf(shadowSchemas, kind, 'shadow document');
  return decodeWith(schema, input, `shadow ${kind} document`, options) as ShadowMessages[K];
}

/**
 * Decodes a shadow message under the Degu profile: the Degu keys of `desired`/`reported` are
 * validated (URLs absolute http(s), `*_ver` 32 hex characters, reported `*_ver` also `"none"`),
 * other keys pass through as JSON.
 *
 * @example
 * ```ts
 * const shadow = decodeMessage('get/accepted', payload)
 * const { value: manifest } = getAcceptedToCanonical(shadow)
 * ```
 * @throws ManifestError (`MANIFEST_INVALID`) naming each failing path, e.g. `state.desired.script_user_ver`.
 */
export function decodeMessage<K extends ShadowMessageKind>(
  kind: K,
  input: WireInput,
  options: DecodeMessageOptions = {},
): DeguMessages[K] {
  const schema = schemaOf(deguSchemas, kind, 'Degu shadow document');
  return decodeWith(schema, input, `Degu shadow ${kind} document`, options) as DeguMessages[K];
}

/**
 * Decodes the sensor's boot report (docs/protocols/degu.md, "The boot report"): exactly the
 * three MD5s and the firmware version, inside `{"state":{"reported":…}}`.
 * @throws ManifestError (`MANIFEST_INVALID`).
 */
export function decodeBootReport(input: WireInput, options: DecodeMessageOptions = {}): DeguBootRequest {
  return decodeWith(DeguBootRequestSchema, input, 'Degu boot report', options);
}

/**
 * The message kind a topic carries: `request` on `/update`, the response kinds on their topics,
 * `rejected` on every `/rejected`; `undefined` on `/get` and `/delete`, whose payload AWS ignores.
 */
export function messageKindOf(topic: ShadowTopicKind): ShadowMessageKind | undefined {
  switch (topic) {
    case 'get':
    case 'delete':
      return undefined;
    case 'update':
      return 'request';
    case 'get/rejected':
    case 'update/rejected':
    case 'delete/rejected':
      return 'rejected';
    default:
      return topic;
  }
}
