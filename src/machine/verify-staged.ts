/**
 * The default `verify` step: compare what the download measured while streaming (size, MD5,
 * SHA-256) against what the manifest promises. Runs no I/O, so verifying costs nothing extra.
 *
 * @module
 */
import { IntegrityError, OtaError } from '../core/errors.js';
import type { Manifest } from '../manifest/schema.js';
import type { StagedArtifact } from './record.js';

export interface VerifyStagedOptions {
  /**
   * Accept artifacts whose manifest carries no digest (Exosite manifests never do).
   * @default false
   */
  allowUnverified?: boolean;
}

/**
 * Throws an {@link IntegrityError} (code `INTEGRITY`) at the first artifact whose size or digest
 * differs from the manifest, or that cannot be verified at all.
 */
export function verifyStaged(
  manifest: Pick<Manifest, 'artifacts'>,
  staged: readonly StagedArtifact[],
  options: VerifyStagedOptions = {},
): void {
  if (staged.length !== manifest.artifacts.length) {
    throw new OtaError(
      'INTEGRITY',
      `Expected ${manifest.artifacts.length} staged artifacts, the download produced ${staged.length}`,
    );
  }
  manifest.artifacts.forEach((artifact, index) => {
    const got = staged[index]!;
    const label = artifact.name ?? `artifact ${index}`;
    if (artifact.size !== undefined && got.size !== artifact.size) {
      throw new IntegrityError(label, {
        algorithm: 'size',
        expected: String(artifact.size),
        actual: String(got.size),
      });
    }
    const checks = [
      ['sha256', artifact.sha256, got.sha256],
      ['md5', artifact.md5, got.md5],
    ] as const;
    let verified = false;
    for (const [algorithm, expected, actual] of checks) {
      if (expected === undefined) continue;
      if (actual !== expected) {
        throw new IntegrityError(label, {
          algorithm,
          expected,
          actual: actual ?? '(not measured by the download)',
        });
      }
      verified = true;
    }
    if (!verified && !options.allowUnverified) {
      throw new OtaError(
        'INTEGRITY',
        `${label}: the manifest carries no digest to verify against; set allowUnverified to accept such updates`,
      );
    }
  });
}
