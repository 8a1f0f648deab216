/**
 * What `otakit sign` warns about without refusing: the manifest is valid, but something in it is
 * probably not what its author meant. Signing fixes the bytes for good, so this is the last cheap
 * moment to notice.
 *
 * @module
 */
import { isRecord } from '../core/record.js';
import { isManifestExpired, type Manifest } from '../manifest/schema.js';

/**
 * Paths of the input's fields that the signed manifest does not have (unknown fields, at any
 * depth: `releaseNotes`, `artifacts[0].foo`): the schema drops them, so no signature covers them.
 */
export function droppedFields(input: unknown, signed: unknown, path = ''): string[] {
  if (Array.isArray(input) && Array.isArray(signed)) {
    return input.flatMap((item, index) => droppedFields(item, signed[index], `${path}[${index}]`));
  }
  if (!isRecord(input) || !isRecord(signed)) return [];
  return Object.keys(input).flatMap((name) => {
    const at = path === '' ? name : `${path}.${name}`;
    return name in signed ? droppedFields(input[name], signed[name], at) : [at];
  });
}

/** Warnings about a valid manifest that devices would still refuse, one line each. */
export function signingWarnings(input: unknown, signed: Manifest, now: number): string[] {
  const warnings: string[] = [];
  const dropped = droppedFields(input, signed);
  if (dropped.length > 0) {
    warnings.push(`not manifest fields, left out of the signed manifest: ${dropped.join(', ')}`);
  }
  const bare = signed.artifacts.flatMap((artifact, index) =>
    artifact.md5 === undefined && artifact.sha256 === undefined ? [`artifacts[${index}]`] : [],
  );
  if (bare.length > 0) {
    warnings.push(
      `${bare.join(', ')}: no md5 or sha256; a device that requires signatures refuses it (weak_integrity)`,
    );
  }
  if (isManifestExpired(signed, now)) {
    warnings.push(
      `expiresAt ${signed.expiresAt} is already past; every device refuses it (manifest_expired)`,
    );
  }
  return warnings;
}
