/**
 * One package (firmware or software) out of a device's shared attributes and back, plus the
 * decision a device makes when attributes arrive: update, already current, or not for us.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { parseWith, toValidationIssues } from '../../core/validate.js';
import type { WireInput } from '../../core/wire.js';
import { decodeBoundedJson } from './json.js';
import { attributeKey, type PackageType, SHARED_KEYS, type SharedKey, statementAttribute } from './keys.js';
import { LIMITS } from './limits.js';
import {
  type AttributeResponse,
  AttributeResponseSchema,
  type Package,
  type PackageInput,
  PackageSchema,
  type SharedAttributes,
  SharedAttributesSchema,
} from './schemas.js';

/** Package fields against their attribute key suffix. */
const FIELD_OF = {
  title: 'title',
  version: 'version',
  size: 'size',
  checksum: 'checksum',
  checksum_algorithm: 'checksumAlgorithm',
  url: 'url',
  tag: 'tag',
} as const satisfies Record<SharedKey, keyof Package>;

const KEY_OF = Object.fromEntries(Object.entries(FIELD_OF).map(([key, field]) => [field, key])) as Record<
  string,
  SharedKey
>;

/**
 * Decodes a shared attribute push (`v1/devices/me/attributes`).
 *
 * @throws ManifestError naming each bad key (e.g. `fw_checksum_algorithm`), or the size limit
 *   (`LIMITS.attributesBytes`).
 */
export function decodeAttributes(input: WireInput): SharedAttributes {
  const what = 'ThingsBoard shared attributes';
  return parseWith(
    SharedAttributesSchema,
    decodeBoundedJson(input, { what, maxBytes: LIMITS.attributesBytes }),
    what,
  );
}

/** Decodes an attribute response (`v1/devices/me/attributes/response/<id>`). */
export function decodeAttributeResponse(input: WireInput): AttributeResponse {
  const what = 'ThingsBoard attribute response';
  return parseWith(
    AttributeResponseSchema,
    decodeBoundedJson(input, { what, maxBytes: LIMITS.attributesBytes }),
    what,
  );
}

/** The `fw_*` (or `sw_*`) attributes present in `attributes`, as package fields. */
export function readPackageFields(attributes: SharedAttributes, type: PackageType): Partial<PackageInput> {
  // Plain JavaScript callers may pass anything: a typed error, never a TypeError or a lookup of
  // `PREFIX['constructor']`.
  if (type !== 'firmware' && type !== 'software') {
    throw new ManifestError('ThingsBoard package', [
      { path: 'type', expected: 'one of "firmware", "software"' },
    ]);
  }
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    throw new ManifestError(`ThingsBoard ${type} package`, [
      { path: '', expected: 'the shared attributes (an object)' },
    ]);
  }
  const fields: Record<string, unknown> = { type };
  const source = attributes as Record<string, unknown>;
  for (const key of SHARED_KEYS) {
    const value = source[attributeKey(type, key)];
    if (value !== undefined) fields[FIELD_OF[key]] = value;
  }
  return fields as Partial<PackageInput>;
}

/**
 * The complete package the attributes describe.
 *
 * @throws ManifestError naming wire keys (`fw_title`, `fw_checksum`, …) when a required one is
 *   missing or the checksum does not fit its algorithm.
 */
export function readPackage(attributes: SharedAttributes, type: PackageType = 'firmware'): Package {
  const result = PackageSchema.safeParse(readPackageFields(attributes, type));
  if (result.success) return result.data;
  const issues = toValidationIssues(result.error).map((issue) => {
    const [field, ...rest] = issue.path.split('.');
    const key = KEY_OF[field ?? ''];
    return { ...issue, path: key === undefined ? issue.path : [attributeKey(type, key), ...rest].join('.') };
  });
  throw new ManifestError(`ThingsBoard ${type} package`, issues);
}

/** The shared attributes of a package, as the server pushes them. */
export function packageToAttributes(pkg: Package): SharedAttributes {
  const out: Record<string, unknown> = {};
  for (const key of SHARED_KEYS) {
    const value = pkg[FIELD_OF[key]];
    if (value !== undefined) out[attributeKey(pkg.type, key)] = value;
  }
  return out as SharedAttributes;
}

/**
 * Whether a push removed the package (ThingsBoard deletes `fw_title`/`fw_version` when a package
 * is unassigned).
 */
export function isPackageRemoved(attributes: SharedAttributes, type: PackageType = 'firmware'): boolean {
  const deleted = attributes.deleted ?? [];
  return deleted.includes(attributeKey(type, 'title')) || deleted.includes(attributeKey(type, 'version'));
}

/** What a device does with a package, given what it runs. */
export type UpdateDecision = 'update' | 'current' | 'not_for_us';

export interface UpdateDecisionOptions {
  /**
   * `match` (default): a package whose title differs from the device's is not for it, as the
   * ThingsBoard Arduino/ESP32 client SDK decides ("Firmware is not for us (title is different)").
   * `any`: a different title or version is an update, as ThingsBoard's Python example client does.
   * @default 'match'
   */
  title?: 'match' | 'any';
}

/**
 * Compares a package with what the device runs (`current_fw_title`/`current_fw_version`).
 * Versions are compared as opaque strings: ThingsBoard defines no order
 * (docs/protocols/thingsBoard.md). With no current title or version known, the package is an update.
 *
 * @example
 * ```ts
 * updateDecision({ title: 'f', version: '1.2' }, { title: 'f', version: '1.1' })   // 'update'
 * updateDecision({ title: 'g', version: '1.2' }, { title: 'f', version: '1.1' })   // 'not_for_us'
 * ```
 */
export function updateDecision(
  pkg: { title: string; version: string },
  current: { title?: string | null; version?: string | null } | null,
  options: UpdateDecisionOptions = {},
): UpdateDecision {
  const title = current?.title ?? null;
  const version = current?.version ?? null;
  if (title !== null && pkg.title !== title)
    return (options.title ?? 'match') === 'match' ? 'not_for_us' : 'update';
  return version !== null && pkg.version === version ? 'current' : 'update';
}

/**
 * The attribute request a device sends to learn its package
 * (`{"sharedKeys":"fw_title,fw_version,…"}` on `attributeRequestTopic(id)`). By default it asks for
 * every key the server may push, URL and tag included. With `statement`, it asks for the signed
 * statement attribute too (`otakit_fw_manifest`), so a package assigned while the device was away
 * arrives with its signature; without it the request is byte for byte the client SDKs'.
 */
export function attributeRequest(
  type: PackageType = 'firmware',
  keys: readonly SharedKey[] = SHARED_KEYS,
  options: { statement?: boolean } = {},
): { sharedKeys: string } {
  const names: string[] = keys.map((key) => attributeKey(type, key));
  if (options.statement === true) names.push(statementAttribute(type));
  return { sharedKeys: names.join(',') };
}
