/**
 * Conversion between Degu update orders (shadow `desired`) and the canonical manifest.
 *
 * **One manifest with several artifacts, not one manifest per item.** The Degu semantics decide:
 * the device makes one decision for all items at once (`check_update()` returns a single 1/0),
 * and `do_update()` installs every flagged item in the fixed order script → config → firmware
 * within one boot, with a single reboot at the end (D8). Splitting the items into separate
 * manifests would mean separate update runs, each ending in a reboot, which Degu never does.
 * Only the flagged items become artifacts: an item whose MD5 already matches is not part of the
 * update. Degu orders carry no id, so the manifest id and version are derived from the whole
 * order — every `*_ver` in `desired`, matching or not — and everyone who reads the same `desired`
 * (the device, the operator, a tracker) names the update the same way, also when the device
 * resumes an order it has half done.
 *
 * @module
 */
import * as z from 'zod';
import type { ValidationIssue } from '../../core/errors.js';
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { type Manifest, type ManifestInput, ManifestSchema } from '../../manifest/schema.js';
import type { Conversion, Loss } from '../conversion.js';
import { type OptionalManifestField, unsupportedFields } from '../losses.js';
import {
  checkUpdate,
  type DeguCompatOptions,
  type DeguCurrent,
  type DeguOrder,
  type DeguUpdateItem,
} from './check.js';
import { parseBounded } from './decode.js';
import {
  DEGU_FILE_NAMES,
  DEGU_ITEMS,
  DEGU_TARGETS,
  type DeguDelta,
  type DeguDesiredPatch,
  DeguDesiredSchema,
  type DeguGetAccepted,
  type DeguItem,
  DeguReportedSchema,
  DeguRequestSchema,
  DeguUrlSchema,
  itemOfTarget,
  verKey,
} from './schemas.js';
import { ClientTokenSchema } from './shadow-schemas.js';

/** What a Degu order is read from: the shadow's `desired`, and what the device reports. */
export interface DeguShadowView {
  desired?: DeguOrder | null | undefined;
  /**
   * The device's current MD5s. Without it every `*_ver` in `desired` counts as differing, which
   * is what AWS's delta does (case-sensitively).
   */
  reported?: DeguCurrent | null | undefined;
}

const ViewSchema = z.object({
  desired: DeguDesiredSchema.nullable().optional(),
  reported: DeguReportedSchema.nullable().optional(),
});

/** The canonical id of an order of these items (`degu:<item>=<md5>,…`, install order, lowercase). */
export function orderId(items: ReadonlyArray<Pick<DeguUpdateItem, 'item' | 'md5'>>): string {
  return `degu:${items.map(({ item, md5 }) => `${item}=${md5.toLowerCase()}`).join(',')}`;
}

/** The canonical version of an order of these items: their MD5s, `+`-joined, install order. */
export function orderVersion(items: ReadonlyArray<Pick<DeguUpdateItem, 'md5'>>): string {
  return items.map(({ md5 }) => md5.toLowerCase()).join('+');
}

/** The items of an order: every item with a `*_ver` in `desired`, in install order. */
export function desiredItems(desired: DeguOrder | null | undefined): Array<{ item: DeguItem; md5: string }> {
  return DEGU_ITEMS.flatMap((item) => {
    const md5 = desired?.[verKey(item)];
    return md5 === undefined || md5 === null ? [] : [{ item, md5 }];
  });
}

/**
 * Converts a Degu shadow view into the canonical manifest of the update the device would run, or
 * `null` when nothing is to be updated. Artifacts carry URL, MD5 (lowercase), target and file
 * name; an item that differs but has no URL cannot become an artifact and is listed in `lost`.
 *
 * @example
 * ```ts
 * const { value: manifest } = toCanonical({ desired: shadow.state.desired, reported: shadow.state.reported })
 * if (manifest) await machine.apply(manifest)
 * ```
 * @throws ManifestError when the view does not match the Degu schemas.
 */
export function toCanonical(
  view: DeguShadowView,
  options: DeguCompatOptions = {},
): Conversion<Manifest | null> {
  const { desired, reported } = parseBounded(ViewSchema, view, 'Degu shadow state');
  const check = checkUpdate(desired, reported, options);
  const lost: Loss[] = check.skipped.map(({ item, reason }) => ({ field: `desired.${item}`, reason }));
  const artifacts: Array<z.input<typeof ManifestSchema>['artifacts'][number]> = [];
  for (const entry of check.items) {
    if (entry.url === undefined) {
      lost.push({
        field: `desired.${entry.item}`,
        reason: `${verKey(entry.item)} differs but there is no URL: the reference device fails this item at download`,
      });
      continue;
    }
    artifacts.push({
      url: entry.url,
      md5: entry.md5,
      target: DEGU_TARGETS[entry.item],
      name: DEGU_FILE_NAMES[entry.item],
    });
  }
  if (artifacts.length === 0) return { value: null, lost };
  const order = desiredItems(desired);
  const manifest = parseWith(
    ManifestSchema,
    { id: orderId(order), version: orderVersion(order), artifacts },
    'manifest from a Degu order',
  );
  return { value: manifest, lost };
}

/**
 * {@link toCanonical} of an `/update/delta` document. A delta holds only the keys that differ
 * (case-sensitively, as AWS compares), so pass the device's `reported` state for the hardened
 * case-insensitive comparison.
 */
export function deltaToCanonical(
  delta: Pick<DeguDelta, 'state'>,
  options: DeguCompatOptions & { reported?: DeguCurrent | null } = {},
): Conversion<Manifest | null> {
  return toCanonical({ desired: delta.state, reported: options.reported }, options);
}

/** {@link toCanonical} of a `/get/accepted` document (both sections are in it). */
export function getAcceptedToCanonical(
  document: Pick<DeguGetAccepted, 'state'>,
  options: DeguCompatOptions = {},
): Conversion<Manifest | null> {
  return toCanonical({ desired: document.state.desired, reported: document.state.reported }, options);
}

/** The request document that publishes an order (`{"state":{"desired":…}}`). */
export interface DeguOrderRequest {
  state: { desired: DeguDesiredPatch };
  clientToken?: string;
}

/** Options of {@link fromCanonical}. */
export interface FromCanonicalOptions {
  /**
   * Also set the keys of the items the manifest does not mention to `null`, so a stale order for
   * another item (e.g. a firmware that never installed) does not ride along with this one.
   * @default false (a shadow update is a merge: other items stay as they are)
   */
  exclusive?: boolean;
  /** Echoed by AWS in the responses, to match them to this request (≤ 64 bytes). */
  clientToken?: string;
}

/** The canonical fields `desired` has no place for (every optional one: Degu has only the items). */
const NO_PLACE_IN_DESIRED: Partial<Record<OptionalManifestField, string>> = {
  compatibility: 'Degu orders have no place for compatibility',
  provides: 'Degu orders have no place for provides',
  depends: 'Degu orders have no place for depends',
  expiresAt: 'Degu orders have no place for expiresAt',
  minVersion: 'Degu orders have no place for minVersion',
  signature: 'the Degu items have no place for signature (cloud.encodeOrder adds desired.otakit_manifest)',
  extensions: 'Degu orders have no place for extensions',
};

/**
 * Converts a canonical manifest into the Degu order an operator publishes to `/update`.
 *
 * Lost (and listed): the manifest id and version (Degu derives the identity from the MD5s), each
 * artifact's size and SHA-256 (Degu checks MD5 only), a file name other than the item's own,
 * and compatibility, provides/depends, expiry, anti-rollback floor, signature and extensions —
 * none has a place in `desired`. Expiry matters: the device will install the order whenever it
 * next checks, however late.
 *
 * Not expressible, so rejected with a `ManifestError`: an artifact targeting anything but
 * script/config/firmware, two artifacts for one item, an artifact without MD5 (the device only
 * acts on `*_ver`: without it the order is silently ignored), a URL that is not absolute http(s).
 *
 * @example
 * ```ts
 * const { value, lost } = fromCanonical(manifest)
 * await mqtt.publish(shadowTopic({ thingName }, 'update'), JSON.stringify(value))
 * ```
 */
export function fromCanonical(
  input: ManifestInput,
  options: FromCanonicalOptions = {},
): Conversion<DeguOrderRequest> {
  const manifest = parseBounded(ManifestSchema, input, 'manifest');
  const issues: ValidationIssue[] = [];
  const lost: Loss[] = [];
  const desired: DeguDesiredPatch = {};
  const byItem = new Map<DeguItem, { md5: string }>();

  manifest.artifacts.forEach((artifact, index) => {
    const path = `artifacts[${index}]`;
    const item = itemOfTarget(artifact.target);
    if (item === undefined) {
      issues.push({
        path: `${path}.target`,
        expected: 'script, config or firmware (Degu has no other item)',
      });
      return;
    }
    if (byItem.has(item)) {
      issues.push({
        path: `${path}.target`,
        expected: `at most one ${artifact.target} artifact (Degu has one ${item})`,
      });
      return;
    }
    if (artifact.md5 === undefined) {
      issues.push({ path: `${path}.md5`, expected: `an MD5: Degu acts only on ${verKey(item)}` });
      return;
    }
    if (!DeguUrlSchema.safeParse(artifact.url).success) {
      issues.push({
        path: `${path}.url`,
        expected: 'an absolute http(s) URL (the Degu gateway downloads it)',
      });
      return;
    }
    byItem.set(item, { md5: artifact.md5 });
    desired[item] = artifact.url;
    desired[verKey(item)] = artifact.md5;
    if (artifact.size !== undefined)
      lost.push({ field: `${path}.size`, reason: 'Degu orders state no size' });
    if (artifact.sha256 !== undefined) {
      lost.push({ field: `${path}.sha256`, reason: 'Degu verifies MD5 only' });
    }
    if (artifact.name !== undefined && artifact.name !== DEGU_FILE_NAMES[item]) {
      lost.push({ field: `${path}.name`, reason: `Degu writes ${item} to ${DEGU_FILE_NAMES[item]}` });
    }
  });
  if (options.clientToken !== undefined && !ClientTokenSchema.safeParse(options.clientToken).success) {
    issues.push({ path: 'clientToken', expected: 'at most 64 bytes' });
  }
  if (issues.length > 0) throw new ManifestError('manifest for a Degu order', issues);

  const items = DEGU_ITEMS.filter((item) => byItem.has(item)).map((item) => ({
    item,
    md5: byItem.get(item)!.md5,
  }));
  if (manifest.id !== orderId(items)) {
    lost.push({ field: 'id', reason: 'Degu orders carry no id (it is derived from the item MD5s)' });
  }
  if (manifest.version !== orderVersion(items)) {
    lost.push({
      field: 'version',
      reason: 'Degu orders carry no version (it is derived from the item MD5s)',
    });
  }
  lost.push(...unsupportedFields(manifest, NO_PLACE_IN_DESIRED));
  if (options.exclusive === true) {
    for (const item of DEGU_ITEMS) {
      if (byItem.has(item)) continue;
      desired[item] = null;
      desired[verKey(item)] = null;
    }
  }
  const request: DeguOrderRequest = { state: { desired: orderedDesired(desired) } };
  if (options.clientToken !== undefined) request.clientToken = options.clientToken;
  // The result must be a request AWS accepts (8 KB state, depth): check rather than hope.
  parseWith(DeguRequestSchema, request, 'Degu order request');
  return { value: request, lost };
}

/** `desired` with the Degu keys in their documented order (readable, stable output). */
function orderedDesired(desired: DeguDesiredPatch): DeguDesiredPatch {
  const out: DeguDesiredPatch = {};
  for (const item of DEGU_ITEMS) {
    if (desired[item] !== undefined) out[item] = desired[item];
    if (desired[verKey(item)] !== undefined) out[verKey(item)] = desired[verKey(item)];
  }
  return out;
}
