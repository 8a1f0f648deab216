/**
 * Connhex releases to and from the canonical manifest. A Connhex release is one `.zip` (run by
 * its `update.sh`) at a release endpoint, described by the headers of a `HEAD`: a version, a
 * size, a SHA-256 and a window of installed versions it applies to. It has no update id, no
 * MD5, no signature, no expiry and no dependency model; those are listed as lost.
 *
 * @module
 */
import { parseWith } from '../../core/validate.js';
import { type Manifest, type ManifestInput, ManifestSchema } from '../../manifest/schema.js';
import type { Conversion, Loss } from '../conversion.js';
import { foreignExtensions, unsupportedFields } from '../losses.js';
import { RELEASE_PACKAGE } from './package.js';
import { type ConnhexExtension, ConnhexExtensionSchema, type Release, ReleaseSchema } from './schemas.js';

/** The key of the Connhex fields in `manifest.extensions`. */
export const EXTENSION_KEY = 'connhex';

/**
 * A release as a canonical manifest: one `package` artifact (the `.zip`), with its SHA-256 when
 * the release had a `Content-Digest` (else `manifestIntegrity` says `none`). The version doubles
 * as the update id. `extensions.connhex` records the package rules (`zip`, `update.sh`) and the
 * fields with no canonical home (`Min-Version`/`Max-Version` bound the *installed* version, which
 * the canonical `minVersion` anti-rollback floor does not mean; `ETag`; `Content-Type`).
 * Nothing is lost.
 *
 * @throws ManifestError when `release` is not a valid {@link Release}.
 *
 * @example
 * ```ts
 * const { value: manifest } = connhex.toCanonical({ url, ...connhex.parseReleaseHeaders(head.headers) })
 * ```
 */
export function toCanonical(release: Release): Conversion<Manifest> {
  const valid = parseWith(ReleaseSchema, release, 'Connhex release');
  const extension: ConnhexExtension = {
    package: RELEASE_PACKAGE.format,
    entrypoint: RELEASE_PACKAGE.entrypoint,
  };
  if (valid.minVersion !== undefined) extension.minVersion = valid.minVersion;
  if (valid.maxVersion !== undefined) extension.maxVersion = valid.maxVersion;
  if (valid.etag !== undefined) extension.etag = valid.etag;
  if (valid.contentType !== undefined) extension.contentType = valid.contentType;
  const artifact: Manifest['artifacts'][number] = { url: valid.url, target: 'package' };
  if (valid.size !== undefined) artifact.size = valid.size;
  if (valid.sha256 !== undefined) artifact.sha256 = valid.sha256;
  if (valid.fileName !== undefined) artifact.name = valid.fileName;
  const manifest = parseWith(
    ManifestSchema,
    {
      id: valid.version,
      version: valid.version,
      artifacts: [artifact],
      extensions: { [EXTENSION_KEY]: extension },
    },
    'manifest',
  );
  return { value: manifest, lost: [] };
}

/** The manifest fields a Connhex release has no place for, and why. */
const UNSUPPORTED = {
  compatibility: 'Connhex selects releases by the device model on the server; no compatibility list travels',
  provides: 'Connhex releases declare nothing they provide',
  depends: 'Connhex releases have no dependency model',
  expiresAt: 'Connhex releases do not expire',
  minVersion:
    'Connhex has no anti-rollback floor (Min-Version bounds the installed version, a different rule)',
  signature:
    'the release headers carry no signature (cloud.encodeOrder adds otakit_manifest, served as <release URL>.otakit.json)',
} as const;

/**
 * A canonical manifest as a Connhex release (what `HEAD` on the release endpoint describes;
 * {@link releaseHeaders} writes the headers). Lost, and listed: an id other than the version,
 * every artifact but the first, a target other than `package`, MD5, and the manifest fields
 * Connhex has no place for (compatibility, provides, depends, expiry, anti-rollback floor,
 * signature, other systems' extensions).
 *
 * @throws ManifestError when `manifest` is invalid, its first artifact's URL is not http(s), or its
 * version cannot travel in an HTTP header (printable ASCII).
 */
export function fromCanonical(manifest: Manifest | ManifestInput): Conversion<Release> {
  const valid = parseWith(ManifestSchema, manifest, 'manifest');
  const lost: Loss[] = [];
  if (valid.id !== valid.version) {
    lost.push({ field: 'id', reason: 'Connhex identifies a release by its version only' });
  }
  const [artifact, ...others] = valid.artifacts;
  others.forEach((_, index) => {
    lost.push({ field: `artifacts[${index + 1}]`, reason: 'a Connhex release is a single .zip file' });
  });
  if (artifact!.target !== 'package') {
    lost.push({
      field: 'artifacts[0].target',
      reason: `a Connhex release is always a .zip package run by update.sh, not a "${artifact!.target}"`,
    });
  }
  if (artifact!.md5 !== undefined) {
    lost.push({ field: 'artifacts[0].md5', reason: 'Connhex carries only a SHA-256 Content-Digest' });
  }
  lost.push(...unsupportedFields(valid, UNSUPPORTED), ...foreignExtensions(valid, EXTENSION_KEY));
  let extension: Partial<ConnhexExtension> = {};
  const own = valid.extensions?.[EXTENSION_KEY];
  if (own !== undefined) {
    const parsed = ConnhexExtensionSchema.safeParse(own);
    if (parsed.success) extension = parsed.data;
    else
      lost.push({ field: `extensions.${EXTENSION_KEY}`, reason: 'not a valid Connhex extension, ignored' });
  }
  const release: Record<string, unknown> = { url: artifact!.url, version: valid.version };
  if (artifact!.size !== undefined) release.size = artifact!.size;
  if (artifact!.sha256 !== undefined) release.sha256 = artifact!.sha256;
  if (artifact!.name !== undefined) {
    if (ReleaseSchema.shape.fileName.safeParse(artifact!.name).success) release.fileName = artifact!.name;
    else
      lost.push({
        field: 'artifacts[0].name',
        reason: 'not a plain file name a Content-Disposition may carry',
      });
  }
  for (const key of ['minVersion', 'maxVersion', 'etag', 'contentType'] as const) {
    if (extension[key] !== undefined) release[key] = extension[key];
  }
  return { value: parseWith(ReleaseSchema, release, 'Connhex release (from manifest)'), lost };
}
