/**
 * Resource values as they travel: both `config_otau` and `otau_in` are JSON *strings* ("must be sent as a
 * string via the Murano API", docs/protocols/exosite.md, "Resources"). Decoding is string → JSON → schema;
 * encoding is the reverse. A value that was JSON-encoded once more on the way (a JSON string literal whose
 * content is the manifest, as some tools write it) is unwrapped once.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { decodeJson, type WireInput } from '../../core/wire.js';
import { refuseProtoKeys } from './json-payload.js';
import { LIMITS } from './limits.js';
import {
  CompatOtauManifestSchema,
  type OtauManifest,
  type OtauManifestInput,
  OtauManifestSchema,
  type OtauStatus,
  OtauStatusSchema,
  parseOtauManifest,
} from './schemas.js';

/** Options of the manifest decoder. */
export interface DecodeManifestOptions {
  /**
   * Accept what the reference flow accepts: payload items need only be non-empty strings (their
   * scheme is still checked by `resolvePayloadItem` before any download).
   * @default false (hardened: payload items must be http(s) URLs with a host or content ids)
   */
  strictCompat?: boolean;
}

/**
 * Whether a resource value is empty: a cleared `config_otau` (empty, or only whitespace), which
 * a device ignores (docs/protocols/exosite.md, "Device flow") rather than reporting an invalid manifest.
 */
export function isEmptyResourceValue(value: string | Uint8Array): boolean {
  if (typeof value === 'string') return value.trim() === '';
  for (const byte of value) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false;
  }
  return true;
}

/** JSON from a resource value; a JSON string holding JSON is unwrapped once. */
function resourceJson(input: WireInput, what: string): unknown {
  const options = { what, maxBytes: LIMITS.resourceBytes };
  const value = decodeJson(input, options);
  return typeof value === 'string' ? decodeJson(value, options) : value;
}

/**
 * Decodes a `config_otau` value: the string (or MQTT payload bytes) straight off the wire, or an
 * already parsed value.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming the path and what was expected: over
 *   {@link LIMITS.resourceBytes}, not UTF-8, not JSON, or not a manifest (unknown `type`, missing
 *   `version`/`name`, bad payload). An empty value is not JSON: test {@link isEmptyResourceValue} first.
 *
 * @example
 * ```ts
 * const manifest = decodeManifest(decodeForm(body).config_otau)
 * if (manifest.type === 'URL_LIST') for (const item of manifest.payload) ...
 * ```
 */
export function decodeManifest(input: WireInput, options: DecodeManifestOptions = {}): OtauManifest {
  const what = 'Exosite config_otau manifest';
  const schema = options.strictCompat === true ? CompatOtauManifestSchema : OtauManifestSchema;
  const json = resourceJson(input, what);
  refuseProtoKeys(json, what);
  return parseOtauManifest(schema, json, what);
}

/** Like {@link decodeManifest}, returning a result instead of throwing. */
export function safeDecodeManifest(
  input: WireInput,
  options: DecodeManifestOptions = {},
): { success: true; data: OtauManifest } | { success: false; error: ManifestError } {
  return attempt(() => decodeManifest(input, options));
}

/**
 * Encodes a manifest as the `config_otau` string (validated first, so what is written is what a
 * hardened device accepts).
 *
 * @throws ManifestError when `manifest` is not a valid manifest.
 */
export function encodeManifest(manifest: OtauManifestInput): string {
  refuseProtoKeys(manifest, 'Exosite config_otau manifest');
  return JSON.stringify(parseOtauManifest(OtauManifestSchema, manifest, 'Exosite config_otau manifest'));
}

/**
 * Decodes an `otau_in` value (string, bytes or parsed value).
 *
 * @throws ManifestError (`MANIFEST_INVALID`) for an oversized, non-JSON or invalid status
 *   (e.g. a status word outside the 15 of `OTAU_STATUSES`).
 */
export function decodeStatus(input: WireInput): OtauStatus {
  const what = 'Exosite otau_in status';
  return parseWith(OtauStatusSchema, resourceJson(input, what), what);
}

/** Like {@link decodeStatus}, returning a result instead of throwing. */
export function safeDecodeStatus(
  input: WireInput,
): { success: true; data: OtauStatus } | { success: false; error: ManifestError } {
  return attempt(() => decodeStatus(input));
}

/**
 * Encodes a status as the `otau_in` string, always with a `message` (`""` when none), as the
 * examples of Exosite's device flow do.
 *
 * @example
 * ```ts
 * encodeStatus({ version: '2.0.5-stable', status: 'INSTALLED_VERSION' })
 * // '{"version":"2.0.5-stable","status":"INSTALLED_VERSION","message":""}'
 * ```
 */
export function encodeStatus(status: OtauStatus): string {
  const valid = parseWith(OtauStatusSchema, status, 'Exosite otau_in status');
  return JSON.stringify({ version: valid.version, status: valid.status, message: valid.message ?? '' });
}

function attempt<T>(run: () => T): { success: true; data: T } | { success: false; error: ManifestError } {
  try {
    return { success: true, data: run() };
  } catch (error) {
    if (error instanceof ManifestError) return { success: false, error };
    throw error;
  }
}

/**
 * The `version` of a `config_otau` value, read without validating the rest, or `null`. A device needs it to
 * report `TEST_ERROR` for a manifest it refuses (an unknown `type`, a missing `version` or `name`). Never
 * throws.
 */
export function manifestVersionOf(input: WireInput): string | null {
  try {
    const value = resourceJson(input, 'Exosite config_otau manifest');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    const version = (value as { version?: unknown }).version;
    return typeof version === 'string' && version.length <= LIMITS.versionLength ? version : null;
  } catch {
    return null;
  }
}
