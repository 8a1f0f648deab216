/**
 * The cloud's view of one device: Murano's device state API (the Device2 service), where a
 * service writes a device's resources (`config_otau`) and reads what the device reported
 * (`otau_in`). One JSON object per device, alias → `{ set, reported, timestamp }`; every value is
 * the resource string. See docs/protocols/exosite.md, "Cloud side".
 *
 * @module
 */
import * as z from 'zod';
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { decodeJson, type WireInput } from '../../core/wire.js';
import { assertAlias } from './alias.js';
import { LIMITS } from './limits.js';

/**
 * Path of a device's state on the Murano API (relative to the API host of your business):
 * `GET` reads it, `PATCH` with `{ "<alias>": "<value>" }` writes resources.
 *
 * @example
 * ```ts
 * identityStatePath('d1zzd6dflnt50000', 'sensor-0042')
 * // '/api:1/service/d1zzd6dflnt50000/device2/identity/sensor-0042/state'
 * ```
 */
export function identityStatePath(productId: string, identity: string): string {
  return `/api:1/service/${productId}/device2/identity/${encodeURIComponent(identity)}/state`;
}

/** Whether `path` (a URL path) is a device state path. */
export const IDENTITY_STATE_PATH = /^\/api:1\/service\/[a-z0-9]{1,63}\/device2\/identity\/[^/]+\/state$/;

/** One resource in a device state: what the cloud set, what the device reported, and when. */
export const ResourceStateSchema = z.object({
  /** The value the cloud wrote (for `config_otau`: the manifest string). */
  set: z.string({ error: 'a resource string' }).max(LIMITS.resourceBytes).optional(),
  /** The value the device wrote last (for `otau_in`: the status string). */
  reported: z.string({ error: 'a resource string' }).max(LIMITS.resourceBytes).optional(),
  /** Microseconds since the epoch of the last change. */
  timestamp: z
    .number({ error: 'microseconds since the epoch' })
    .int()
    .nonnegative()
    .max(Number.MAX_SAFE_INTEGER)
    .optional(),
});
export type ResourceState = z.output<typeof ResourceStateSchema>;

// Both resources travel inside one JSON document, so the body may be a little over one value.
const STATE_BYTES = 4 * LIMITS.resourceBytes;

/**
 * The state of `alias` in a device state document, or `null` when the document has none.
 *
 * @throws ManifestError when the body is not JSON, not an object, over its byte limit, or the
 *   alias's entry is malformed. Other aliases are not looked at.
 */
export function decodeResourceState(body: WireInput, alias: string): ResourceState | null {
  assertAlias(alias);
  const what = 'Exosite device state';
  const document = decodeJson(body, { what, maxBytes: STATE_BYTES });
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ManifestError(what, [{ path: '', expected: 'an object of alias → resource state' }]);
  }
  if (!Object.hasOwn(document, alias)) return null;
  return parseWith(ResourceStateSchema, (document as Record<string, unknown>)[alias], `${what} (${alias})`);
}
