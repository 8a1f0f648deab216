/**
 * Release ⇄ canonical manifest. micropython_ota names files and a tag, nothing else: no digest,
 * no size, no signature, no expiry. A manifest built from a release therefore has integrity
 * `none` (and says so in `lost`), and a release built from a manifest drops everything but the
 * tag and the file names (and says so too).
 *
 * @module
 */
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { decodeWire, type WireInput } from '../../core/wire.js';
import { type Manifest, type ManifestInput, ManifestSchema } from '../../manifest/schema.js';
import type { Conversion, Loss } from '../conversion.js';
import { foreignExtensions, unsupportedFields } from '../losses.js';
import { LIMITS } from './limits.js';
import { FilenameSchema, versionTagProblem } from './names.js';
import { EXTENSION_KEY, ExtensionSchema, type Release, type ReleaseInput, ReleaseSchema } from './schemas.js';
import { encodePathSegment, fileUrl, type Layout } from './urls.js';

/**
 * Decodes a release from JSON text, bytes or a parsed value.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming each bad path, or the size limit
 *   (`LIMITS.releaseBytes`).
 */
export function decodeRelease(input: WireInput): Release {
  return decodeWire(ReleaseSchema, input, { what: 'micropython_ota release', maxBytes: LIMITS.releaseBytes });
}

/** Where a file goes: `.py` and `.mpy` are scripts; anything else is a plain file. */
function targetOf(filename: string): 'script' | 'file' {
  return /\.m?py$/i.test(filename) ? 'script' : 'file';
}

/**
 * The canonical manifest of a release. `id` is `<project>@<version>`; each file becomes an
 * artifact with its URL and `name`; host, project and layout are kept in
 * `extensions.micropython_ota`.
 *
 * @throws ManifestError when `release` is invalid.
 *
 * @example
 * ```ts
 * const { value, lost } = toCanonical({ host: 'https://ota.example.com', project: 'sample', version: 'v1.0.1', filenames: ['main.py'] })
 * value.artifacts[0].url   // 'https://ota.example.com/sample/v1.0.1_main.py'
 * lost                     // [{ field: 'artifacts', reason: 'micropython_ota carries no digest …' }]
 * ```
 */
export function toCanonical(release: ReleaseInput): Conversion<Manifest> {
  const valid = parseWith(ReleaseSchema, release, 'micropython_ota release');
  const manifest = parseWith(
    ManifestSchema,
    {
      id: `${valid.project}@${valid.version}`,
      version: valid.version,
      artifacts: valid.filenames.map((filename) => ({
        url: fileUrl({ ...valid, filename }),
        target: targetOf(filename),
        name: filename,
      })),
      extensions: { [EXTENSION_KEY]: { host: valid.host, project: valid.project, layout: valid.layout } },
    } satisfies ManifestInput,
    'manifest',
  );
  const lost: Loss[] = [
    {
      field: 'artifacts',
      reason: 'micropython_ota carries no digest and no size: the manifest integrity is none',
    },
  ];
  return { value: manifest, lost };
}

const WHAT = 'micropython_ota release from manifest';

function lastSegment(url: string): string | undefined {
  const path = url.replace(/[?#].*$/, '');
  const segment = path.slice(path.lastIndexOf('/') + 1);
  try {
    return segment === '' ? undefined : decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Splits `<host>/<project>/<version><sep><name>` into host, project and layout, if it has that form. */
function locate(
  url: string,
  version: string,
  name: string,
): { host: string; project: string; layout: Layout } | undefined {
  const encodedName = name.split('/').map(encodePathSegment).join('/');
  const encodedVersion = encodePathSegment(version);
  for (const layout of ['prefix', 'subdirectory'] as const) {
    const suffix = `/${encodedVersion}${layout === 'prefix' ? '_' : '/'}${encodedName}`;
    if (!url.endsWith(suffix)) continue;
    const base = url.slice(0, -suffix.length);
    const slash = base.lastIndexOf('/');
    let project: string;
    try {
      project = decodeURIComponent(base.slice(slash + 1));
    } catch {
      continue;
    }
    const location = { host: base.slice(0, slash), project, layout };
    if (ExtensionSchema.safeParse(location).success) return location;
  }
  return undefined;
}

/**
 * The release a manifest describes. Host, project and layout come from
 * `extensions.micropython_ota` when present, else from the artifact URLs, which must then read
 * `<host>/<project>/<version>_<name>` (or `/<version>/<name>`) for one host, project and layout.
 * File names are the artifacts' `name`s (or the last URL segment).
 *
 * Everything micropython_ota cannot carry is listed in `lost`: digests, sizes, targets, the id,
 * compatibility, provides/depends, expiry, the anti-rollback floor, the signature and other
 * systems' extensions.
 *
 * @throws ManifestError when the manifest is invalid, its version is not a valid tag, or an
 *   artifact is not where micropython_ota would fetch it.
 */
export function fromCanonical(manifest: ManifestInput): Conversion<Release> {
  const valid = parseWith(ManifestSchema, manifest, 'manifest');
  const issues: ValidationIssue[] = [];
  const tagProblem = versionTagProblem(valid.version);
  if (tagProblem !== undefined) issues.push({ path: 'version', expected: `micropython_ota ${tagProblem}` });
  const extension = valid.extensions?.[EXTENSION_KEY];
  const kept = extension === undefined ? undefined : ExtensionSchema.safeParse(extension);
  if (kept !== undefined && !kept.success) {
    issues.push({ path: `extensions.${EXTENSION_KEY}`, expected: 'host, project and layout' });
  }
  if (issues.length > 0) throw new ManifestError(WHAT, issues);

  let location: { host: string; project: string; layout: Layout } | undefined = kept?.data;
  const filenames: string[] = [];
  valid.artifacts.forEach((artifact, index) => {
    const name = artifact.name ?? lastSegment(artifact.url);
    if (name === undefined || !FilenameSchema.safeParse(name).success) {
      issues.push({ path: `artifacts[${index}].name`, expected: 'a relative file name' });
      return;
    }
    filenames.push(name);
    location ??= locate(artifact.url, valid.version, name);
    const expected = location && fileUrl({ ...location, version: valid.version, filename: name });
    if (expected !== artifact.url) {
      issues.push({
        path: `artifacts[${index}].url`,
        expected: 'the URL micropython_ota fetches: <host>/<project>/<version>_<name> or <version>/<name>',
      });
    }
  });
  if (new Set(filenames).size !== filenames.length)
    issues.push({ path: 'artifacts', expected: 'distinct names' });
  if (issues.length > 0 || location === undefined) throw new ManifestError(WHAT, issues);

  const release = parseWith(ReleaseSchema, { ...location, version: valid.version, filenames }, WHAT);
  return { value: release, lost: lostFrom(valid, release) };
}

function lostFrom(manifest: Manifest, release: Release): Loss[] {
  const lost: Loss[] = [];
  const no = (field: string, reason: string) => lost.push({ field, reason });
  if (manifest.id !== `${release.project}@${release.version}`) {
    no('id', 'micropython_ota identifies a release by project and tag only');
  }
  manifest.artifacts.forEach((artifact, index) => {
    const at = `artifacts[${index}]`;
    if (artifact.sha256 !== undefined) no(`${at}.sha256`, 'micropython_ota carries no digest');
    if (artifact.md5 !== undefined) no(`${at}.md5`, 'micropython_ota carries no digest');
    if (artifact.size !== undefined) no(`${at}.size`, 'micropython_ota carries no size');
    if (artifact.target !== targetOf(release.filenames[index] ?? '')) {
      no(`${at}.target`, 'micropython_ota writes every file into the device root as is');
    }
  });
  lost.push(
    ...unsupportedFields(manifest, {
      compatibility: 'micropython_ota has no compatibility check',
      provides: 'micropython_ota has no provides/depends',
      depends: 'micropython_ota has no provides/depends',
      expiresAt: 'micropython_ota orders never expire',
      minVersion: 'micropython_ota compares tags for equality only: any change, older included, installs',
      signature: 'the version file carries no signature (cloud.encodeOrder adds <version>.otakit.json)',
    }),
    ...foreignExtensions(manifest, EXTENSION_KEY),
  );
  return lost;
}
