/**
 * AWS IoT Device Shadow addressing: the reserved MQTT topics of classic and named shadows, and the
 * REST paths of the same operations. Builders validate the names (a `/`, `+` or `#` in a thing
 * name would address other topics); the parser returns `undefined` for anything that is not a
 * shadow topic, so it can route every message of a connection.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { assertShadowName, assertThingName, ShadowNameSchema, ThingNameSchema } from './names.js';

/** Every shadow topic, relative to the shadow's prefix. */
export const SHADOW_TOPIC_KINDS = [
  'get',
  'get/accepted',
  'get/rejected',
  'update',
  'update/accepted',
  'update/rejected',
  'update/delta',
  'update/documents',
  'delete',
  'delete/accepted',
  'delete/rejected',
] as const;

export type ShadowTopicKind = (typeof SHADOW_TOPIC_KINDS)[number];

/** Which shadow, by thing name and (for a named shadow) shadow name. */
export interface ShadowAddress {
  thingName: string;
  /** Absent for the classic (unnamed) shadow, which Degu uses. */
  shadowName?: string;
}

/** A parsed shadow topic. */
export interface ShadowTopic extends ShadowAddress {
  kind: ShadowTopicKind;
}

/**
 * `$aws/things/<thing>/shadow` or `$aws/things/<thing>/shadow/name/<shadow>`.
 * @throws ManifestError when a name breaks the AWS rules.
 */
export function shadowTopicPrefix(address: ShadowAddress): string {
  assertThingName(address.thingName);
  if (address.shadowName === undefined) return `$aws/things/${address.thingName}/shadow`;
  assertShadowName(address.shadowName);
  return `$aws/things/${address.thingName}/shadow/name/${address.shadowName}`;
}

/**
 * One shadow topic.
 *
 * @example
 * ```ts
 * shadowTopic({ thingName: '0011223344556677' }, 'update/delta')
 * // '$aws/things/0011223344556677/shadow/update/delta'
 * ```
 */
export function shadowTopic(address: ShadowAddress, kind: ShadowTopicKind): string {
  return `${shadowTopicPrefix(address)}/${kind}`;
}

/** Every topic of one shadow, keyed by kind. */
export function shadowTopics(address: ShadowAddress): Record<ShadowTopicKind, string> {
  const prefix = shadowTopicPrefix(address);
  return Object.fromEntries(SHADOW_TOPIC_KINDS.map((kind) => [kind, `${prefix}/${kind}`])) as Record<
    ShadowTopicKind,
    string
  >;
}

/**
 * The topics a device subscribes to before it publishes anything (docs/protocols/degu.md,
 * "Topics"): responses to its `/get` and `/update`, and `/update/delta`. AWS advises against the
 * `shadow/#` wildcard.
 * `/update/documents` is left out: a device does not need it, and it doubles the traffic.
 */
export function deviceSubscriptions(address: ShadowAddress): string[] {
  const prefix = shadowTopicPrefix(address);
  return ['get/accepted', 'get/rejected', 'update/accepted', 'update/rejected', 'update/delta'].map(
    (kind) => `${prefix}/${kind}`,
  );
}

const TOPIC =
  /^\$aws\/things\/([^/]+)\/shadow(?:\/name\/([^/]+))?\/(get|update|delete)(?:\/(accepted|rejected|delta|documents))?$/;

/**
 * Parses a shadow topic; `undefined` for any other topic, for names that break the AWS rules, and
 * for responses that do not exist (`get/delta`).
 *
 * @example
 * ```ts
 * parseShadowTopic('$aws/things/dev1/shadow/name/ota/update/accepted')
 * // { thingName: 'dev1', shadowName: 'ota', kind: 'update/accepted' }
 * ```
 */
export function parseShadowTopic(topic: string): ShadowTopic | undefined {
  if (typeof topic !== 'string' || topic.length > 256) return undefined;
  const match = TOPIC.exec(topic);
  if (match === null) return undefined;
  const [, thingName, shadowName, operation, response] = match;
  if (!ThingNameSchema.safeParse(thingName).success) return undefined;
  if (shadowName !== undefined && !ShadowNameSchema.safeParse(shadowName).success) return undefined;
  if ((response === 'delta' || response === 'documents') && operation !== 'update') return undefined;
  const kind = (response === undefined ? operation : `${operation}/${response}`) as ShadowTopicKind;
  return shadowName === undefined
    ? { thingName: thingName!, kind }
    : { thingName: thingName!, shadowName, kind };
}

/** Options of the REST path builders. */
export interface RestPathOptions {
  /** For `ListNamedShadowsForThing`: the token of the next page. */
  nextToken?: string;
  /** For `ListNamedShadowsForThing`: results per page (AWS: 1–100). */
  pageSize?: number;
}

/**
 * Path of the shadow REST API (`GET`/`POST`/`DELETE` on the `…-ats.iot.<region>.amazonaws.com`
 * endpoint): `/things/<thing>/shadow`, with `?name=<shadow>` for a named shadow.
 */
export function shadowRestPath(address: ShadowAddress): string {
  assertThingName(address.thingName);
  if (address.shadowName === undefined) return `/things/${address.thingName}/shadow`;
  assertShadowName(address.shadowName);
  return `/things/${address.thingName}/shadow?name=${encodeURIComponent(address.shadowName)}`;
}

/** Path of `ListNamedShadowsForThing`. */
export function listNamedShadowsPath(thingName: string, options: RestPathOptions = {}): string {
  assertThingName(thingName);
  const query = new URLSearchParams();
  if (options.nextToken !== undefined) query.set('nextToken', options.nextToken);
  if (options.pageSize !== undefined) {
    if (!Number.isInteger(options.pageSize) || options.pageSize < 1 || options.pageSize > 100) {
      throw new ManifestError('list request', [{ path: 'pageSize', expected: 'an integer from 1 to 100' }]);
    }
    query.set('pageSize', String(options.pageSize));
  }
  const search = query.toString();
  return `/api/things/shadow/ListNamedShadowsForThing/${thingName}${search === '' ? '' : `?${search}`}`;
}
