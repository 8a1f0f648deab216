/**
 * ThingsBoard shared attributes ⇄ canonical manifest. A ThingsBoard package is one file with a
 * title, a version, a size and one checksum of a named algorithm. MD5 and SHA-256 become the
 * canonical `md5`/`sha256`; the other algorithms (SHA384, SHA512, CRC32, MURMUR3_32, MURMUR3_128)
 * travel in `extensions.thingsboard`, and `lost` says otakit cannot verify them.
 *
 * @module
 */
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { parseWith, toValidationIssues } from '../../core/validate.js';
import { type Artifact, type Manifest, type ManifestInput, ManifestSchema } from '../../manifest/schema.js';
import type { Conversion, Loss } from '../conversion.js';
import { foreignExtensions, unsupportedFields } from '../losses.js';
import { assertDepth } from './json.js';
import { attributeKey, CANONICAL_DIGESTS, type PackageType, PREFIX } from './keys.js';
import { packageToAttributes, readPackage } from './package.js';
import {
  EXTENSION_KEY,
  type Extension,
  ExtensionSchema,
  type Package,
  PackageSchema,
  type SharedAttributes,
  type SharedAttributesInput,
  SharedAttributesSchema,
} from './schemas.js';

export interface CodecOptions {
  /** Which package to read or write: `fw_*` (firmware) or `sw_*` (software). @default 'firmware' */
  type?: PackageType;
}

/**
 * Where a package stored in ThingsBoard is fetched from, relative to
 * `<server>/api/v1/<device token>/` (the HTTP device API): `firmware?title=…&version=…`. The
 * token is deliberately not part of it, so a manifest never holds a secret; a device resolves it
 * with `firmwareUrl`, or fetches over MQTT (`chunkRequestTopic`).
 */
export function contentPath(type: PackageType, title: string, version: string): string {
  return `${type}?${new URLSearchParams({ title, version }).toString()}`;
}

/** The manifest id of a package: `fw:<title>@<version>` (`sw:` for software). */
export function packageId(type: PackageType, title: string, version: string): string {
  return `${PREFIX[type]}:${title}@${version}`;
}

function unverifiable(pkg: Package): boolean {
  return pkg.checksumAlgorithm !== undefined && !(pkg.checksumAlgorithm in CANONICAL_DIGESTS);
}

/**
 * The canonical manifest of the package in a device's shared attributes (a push, or the
 * `shared` part of an attribute response).
 *
 * @throws ManifestError naming wire keys when the attributes are invalid or do not describe a
 *   complete package (title and version, and size and checksum unless there is a URL).
 *
 * @example
 * ```ts
 * const { value, lost } = thingsBoard.toCanonical(thingsBoard.decodeAttributes(payload))
 * value.artifacts[0].sha256   // when fw_checksum_algorithm is SHA256
 * ```
 */
export function toCanonical(
  attributes: SharedAttributesInput,
  options: CodecOptions = {},
): Conversion<Manifest> {
  const type = options.type ?? 'firmware';
  assertDepth(attributes, 'ThingsBoard shared attributes');
  const pkg = readPackage(
    parseWith(SharedAttributesSchema, attributes, 'ThingsBoard shared attributes'),
    type,
  );
  const lost: Loss[] = [];
  const artifact: Record<string, unknown> = {
    url: pkg.url ?? contentPath(type, pkg.title, pkg.version),
    target: type === 'firmware' ? 'firmware' : 'package',
    name: pkg.title,
  };
  if (pkg.size !== undefined) artifact.size = pkg.size;
  const extension: Record<string, unknown> = { type, title: pkg.title };
  if (pkg.tag !== undefined) extension.tag = pkg.tag;
  if (pkg.checksum !== undefined && pkg.checksumAlgorithm !== undefined) {
    if (unverifiable(pkg)) {
      extension.checksumAlgorithm = pkg.checksumAlgorithm;
      extension.checksum = pkg.checksum;
      lost.push({
        field: attributeKey(type, 'checksum'),
        reason: `otakit cannot verify ${pkg.checksumAlgorithm} checksums: kept in extensions.${EXTENSION_KEY}, the manifest integrity is none`,
      });
    } else {
      artifact[CANONICAL_DIGESTS[pkg.checksumAlgorithm as keyof typeof CANONICAL_DIGESTS]] = pkg.checksum;
    }
  } else {
    lost.push({
      field: attributeKey(type, 'checksum'),
      reason: 'the package carries no checksum: integrity is none',
    });
  }
  const manifest = parseWith(
    ManifestSchema,
    {
      id: packageId(type, pkg.title, pkg.version),
      version: pkg.version,
      artifacts: [artifact as ManifestInput['artifacts'][number]],
      extensions: { [EXTENSION_KEY]: extension as Extension },
    },
    'manifest',
  );
  return { value: manifest, lost };
}

const WHAT = 'ThingsBoard package from manifest';

function isAbsoluteUrl(url: string): boolean {
  return /^(?:https?|coaps?):\/\//i.test(url);
}

/**
 * The shared attributes that announce a manifest's single artifact as a ThingsBoard package.
 * The title is `extensions.thingsboard.title`, else the artifact's `name`, else the manifest id.
 * An artifact at `contentPath(…)` is a package stored in ThingsBoard (size and a digest are then
 * required); any other absolute URL becomes `fw_url`. SHA-256 is preferred over MD5, and an
 * unverifiable checksum kept in the extension is used only when neither is present.
 *
 * @throws ManifestError when the manifest is invalid, has more than one artifact (a ThingsBoard
 *   package is one file), has a relative URL other than the content path, or lacks the size or
 *   digest a stored package needs.
 */
export function fromCanonical(
  manifest: ManifestInput,
  options: CodecOptions = {},
): Conversion<SharedAttributes> {
  const valid = parseWith(ManifestSchema, manifest, 'manifest');
  const issues: ValidationIssue[] = [];
  const rawExtension = valid.extensions?.[EXTENSION_KEY];
  const kept = rawExtension === undefined ? undefined : ExtensionSchema.safeParse(rawExtension);
  if (kept !== undefined && !kept.success) {
    issues.push({
      path: `extensions.${EXTENSION_KEY}`,
      expected: 'type, title, and optionally tag and checksum',
    });
  }
  if (valid.artifacts.length !== 1) {
    issues.push({ path: 'artifacts', expected: 'exactly one artifact (a ThingsBoard package is one file)' });
  }
  if (issues.length > 0) throw new ManifestError(WHAT, issues);
  const extension = kept?.data;
  const artifact = valid.artifacts[0] as Artifact;
  const type = options.type ?? extension?.type ?? (artifact.target === 'firmware' ? 'firmware' : 'software');
  const title = extension?.title ?? artifact.name ?? valid.id;
  const stored = artifact.url === contentPath(type, title, valid.version);
  if (!stored && !isAbsoluteUrl(artifact.url)) {
    throw new ManifestError(WHAT, [
      { path: 'artifacts[0].url', expected: 'an absolute URL, or the ThingsBoard content path' },
    ]);
  }

  const lost: Loss[] = [];
  const pkg: Record<string, unknown> = { type, title, version: valid.version };
  if (!stored) pkg.url = artifact.url;
  if (artifact.size !== undefined) pkg.size = artifact.size;
  if (extension?.tag !== undefined) pkg.tag = extension.tag;
  if (artifact.sha256 !== undefined) {
    Object.assign(pkg, { checksumAlgorithm: 'SHA256', checksum: artifact.sha256 });
    if (artifact.md5 !== undefined)
      lost.push({ field: 'artifacts[0].md5', reason: 'ThingsBoard carries one checksum; SHA-256 was kept' });
  } else if (artifact.md5 !== undefined) {
    Object.assign(pkg, { checksumAlgorithm: 'MD5', checksum: artifact.md5 });
  } else if (extension?.checksum !== undefined && extension.checksumAlgorithm !== undefined) {
    Object.assign(pkg, { checksumAlgorithm: extension.checksumAlgorithm, checksum: extension.checksum });
  }
  if (stored && (pkg.size === undefined || pkg.checksum === undefined)) {
    throw new ManifestError(WHAT, [
      {
        path: 'artifacts[0]',
        expected: 'a size and a digest (a package stored in ThingsBoard carries both)',
      },
    ]);
  }
  if ((artifact.sha256 !== undefined || artifact.md5 !== undefined) && extension?.checksum !== undefined) {
    lost.push({
      field: `extensions.${EXTENSION_KEY}.checksum`,
      reason: 'ThingsBoard carries one checksum; the canonical digest was kept',
    });
  }
  const result = PackageSchema.safeParse(pkg);
  if (!result.success) {
    const titleFrom =
      extension?.title !== undefined
        ? `extensions.${EXTENSION_KEY}.title`
        : artifact.name !== undefined
          ? 'artifacts[0].name'
          : 'id';
    const source: Record<string, string> = {
      title: titleFrom,
      version: 'version',
      url: 'artifacts[0].url',
      size: 'artifacts[0].size',
    };
    for (const issue of toValidationIssues(result.error)) {
      issues.push({
        path: source[issue.path] ?? 'artifacts[0]',
        expected: `${issue.path || 'package'}: ${issue.expected}`,
      });
    }
  }
  if (issues.length > 0 || !result.success) throw new ManifestError(WHAT, issues);

  lost.push(...lostFrom(valid, result.data));
  return { value: packageToAttributes(result.data), lost };
}

function lostFrom(manifest: Manifest, pkg: Package): Loss[] {
  const lost: Loss[] = [];
  const no = (field: string, reason: string) => lost.push({ field, reason });
  if (manifest.id !== packageId(pkg.type, pkg.title, pkg.version)) {
    no('id', 'ThingsBoard identifies a package by type, title and version');
  }
  const artifact = manifest.artifacts[0];
  if (artifact?.name !== undefined && artifact.name !== pkg.title) {
    no('artifacts[0].name', 'ThingsBoard names a package by its title only');
  }
  lost.push(
    ...unsupportedFields(manifest, {
      compatibility: 'ThingsBoard assigns packages per device profile, not in the package',
      provides: 'ThingsBoard has no provides/depends',
      depends: 'ThingsBoard has no provides/depends',
      expiresAt: 'ThingsBoard packages never expire',
      minVersion: 'ThingsBoard has no anti-rollback floor',
      signature:
        'the fw_* attributes carry no signature (cloud.encodeOrder adds otakit_fw_manifest / otakit_sw_manifest)',
    }),
    ...foreignExtensions(manifest, EXTENSION_KEY),
  );
  return lost;
}
