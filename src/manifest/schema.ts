/**
 * The canonical manifest: what one update is, richer than any single platform's wire format.
 * Every protocol codec converts to and from it, losing only what its wire format cannot carry.
 *
 * @module
 */
import * as z from 'zod';
import { isArtifactUrl } from '../core/url-scheme.js';
import { parseWith, safeParseWith } from '../core/validate.js';

/** Lowercase hex of a given length; upper case input is accepted and normalised. */
const hex = (length: number, name: string) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${length}}$`), { error: `${length} hex characters (${name})` })
    .transform((value) => value.toLowerCase());

export const ArtifactTargetSchema = z.enum(['script', 'config', 'firmware', 'package', 'file']);
export type ArtifactTarget = z.infer<typeof ArtifactTargetSchema>;

export const ArtifactSchema = z.object({
  /**
   * Where to fetch it: an `https:`/`http:` URL, an inline `data:` URL, or a path relative to the
   * platform's content store. Any other scheme (`file:`, `ftp:`…) is refused.
   */
  url: z
    .string()
    .min(1, { error: 'a non-empty URL or content path' })
    .refine(isArtifactUrl, { error: 'an https:, http: or data: URL, or a content path without a scheme' }),
  /** Size in bytes, when the platform states it. Enforced while streaming. */
  size: z.number().int().nonnegative().optional(),
  md5: hex(32, 'MD5').optional(),
  sha256: hex(64, 'SHA-256').optional(),
  target: ArtifactTargetSchema,
  /** A file name or slot, e.g. `main.py` or `firmware_system`. */
  name: z.string().min(1).optional(),
});
export type Artifact = z.output<typeof ArtifactSchema>;

export const CompatibilitySchema = z.object({
  /** Device types (hardware models) this update is built for. */
  deviceTypes: z.array(z.string().min(1)).min(1).optional(),
  /**
   * Device ids this order is bound to (an order for one device must not be replayed on another).
   * Like every compatibility field it is covered by the signature.
   */
  deviceIds: z.array(z.string().min(1)).min(1).optional(),
  /** Versions this update may be installed over (e.g. a delta's base). */
  fromVersions: z.array(z.string().min(1)).min(1).optional(),
});
export type Compatibility = z.output<typeof CompatibilitySchema>;

/**
 * Signature envelope (Ed25519, TUF-style list so several keys can sign and keys can rotate).
 * The signatures cover the `otakit-json-v1` bytes of the manifest (`canonical.ts`); they are
 * checked by `verifyManifestSignature` (`trust.ts`).
 */
export const SignatureEnvelopeSchema = z.object({
  /** How the signed bytes were produced from the manifest. */
  canonicalization: z.literal('otakit-json-v1'),
  signatures: z
    .array(
      z.object({
        keyId: z.string().min(1),
        algorithm: z.literal('ed25519'),
        /** Base64 of the 64-byte signature. */
        value: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, { error: 'base64 of a 64-byte Ed25519 signature' }),
      }),
    )
    .min(1),
});
export type SignatureEnvelope = z.output<typeof SignatureEnvelopeSchema>;

export const ManifestSchema = z.object({
  /** Identifies this update (a deployment, a file id, a shadow version). */
  id: z.string().min(1, { error: 'a non-empty update id' }),
  /** Opaque version string; otakit never orders versions unless told how. */
  version: z.string().min(1, { error: 'a non-empty version' }),
  artifacts: z.array(ArtifactSchema).min(1, { error: 'at least one artifact' }),
  compatibility: CompatibilitySchema.optional(),
  /** What installing this update provides, e.g. `{ "rootfs.version": "2.1" }`. */
  provides: z.record(z.string(), z.string()).optional(),
  /** What must already be provided for this update to apply. */
  depends: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).optional(),
  /** After this instant the order is stale and must not start (freeze-attack defence). */
  expiresAt: z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time' }).optional(),
  /** Anti-rollback floor: the device refuses versions older than this. */
  minVersion: z.string().min(1).optional(),
  signature: SignatureEnvelopeSchema.optional(),
  /** Platform-specific extras a codec keeps so it can re-encode without loss. */
  extensions: z.record(z.string(), z.json()).optional(),
});

/** A validated manifest (digests normalised to lowercase). */
export type Manifest = z.output<typeof ManifestSchema>;
/** What a manifest may look like before validation. */
export type ManifestInput = z.input<typeof ManifestSchema>;

/**
 * Validates `input` as a manifest.
 * @throws ManifestError naming every failing path and what was expected.
 *
 * @example
 * ```ts
 * const manifest = parseManifest(await response.json())
 * ```
 */
export function parseManifest(input: unknown): Manifest {
  return parseWith(ManifestSchema, input, 'manifest');
}

/** Like {@link parseManifest}, returning a result instead of throwing. */
export function safeParseManifest(input: unknown) {
  return safeParseWith(ManifestSchema, input, 'manifest');
}

/** How the integrity of a manifest's artifacts can be checked. */
export type ManifestIntegrity = 'sha256' | 'md5' | 'none';

/**
 * The weakest digest present across all artifacts: `none` if any artifact has no digest at all
 * (Exosite manifests carry none), `md5` if some have only MD5, else `sha256`.
 */
export function manifestIntegrity(manifest: Pick<Manifest, 'artifacts'>): ManifestIntegrity {
  let weakest: ManifestIntegrity = 'sha256';
  for (const artifact of manifest.artifacts) {
    if (artifact.sha256 === undefined && artifact.md5 === undefined) return 'none';
    if (artifact.sha256 === undefined) weakest = 'md5';
  }
  return weakest;
}

/** Whether the manifest's `expiresAt` is at or before `now` (ms since epoch). */
export function isManifestExpired(manifest: Pick<Manifest, 'expiresAt'>, now: number): boolean {
  return manifest.expiresAt !== undefined && Date.parse(manifest.expiresAt) <= now;
}
