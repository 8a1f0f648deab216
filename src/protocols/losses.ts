/**
 * The one helper for "what the target format cannot carry": each codec names the canonical
 * fields it has no place for, and why; this lists those the manifest actually sets.
 *
 * @module
 */
import type { Manifest } from '../manifest/schema.js';
import type { Loss } from './conversion.js';

/** Top-level manifest fields a wire format may have no place for. */
export type OptionalManifestField =
  | 'compatibility'
  | 'provides'
  | 'depends'
  | 'expiresAt'
  | 'minVersion'
  | 'signature'
  | 'extensions';

/**
 * One {@link Loss} per field of `unsupported` that `manifest` sets.
 *
 * @example
 * ```ts
 * lost.push(...unsupportedFields(manifest, {
 *   expiresAt: 'Degu orders never expire',
 *   signature: 'Degu orders carry no signature',
 * }))
 * ```
 */
export function unsupportedFields(
  manifest: Partial<Pick<Manifest, OptionalManifestField>>,
  unsupported: Partial<Record<OptionalManifestField, string>>,
): Loss[] {
  const lost: Loss[] = [];
  for (const [field, reason] of Object.entries(unsupported) as Array<[OptionalManifestField, string]>) {
    if (manifest[field] !== undefined) lost.push({ field, reason });
  }
  return lost;
}

/** One {@link Loss} per extension key other than `own` (another platform's extras). */
export function foreignExtensions(manifest: Pick<Manifest, 'extensions'>, own: string): Loss[] {
  return Object.keys(manifest.extensions ?? {})
    .filter((key) => key !== own)
    .map((key) => ({ field: `extensions.${key}`, reason: "another system's extension" }));
}
