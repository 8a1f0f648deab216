/**
 * The releases a Connhex release endpoint serves, by scope: one for every device (the device
 * endpoint `/iot/ota/<initId>` of any device without a release of its own), one per device
 * (`initId`), and one per firmware (the artifact endpoint `/iot/firmwares/<firmwareId>/artifact`,
 * which a group of devices of one model polls). Publishing swaps a scope's release in one
 * assignment: a check or a download in flight keeps the release it started with, the next one
 * sees the new release. Withdrawing leaves the scope without a release, which the device reads
 * as "no update" (`404` on the device endpoint, `204` on the artifact endpoint).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { ManifestError, OtaError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { type Manifest, type ManifestInput, parseManifest } from '../../manifest/schema.js';
import { checkPackageEntries, RELEASE_PACKAGE } from '../../protocols/connhex/package.js';
import {
  type ReleaseMetadata,
  ReleaseMetadataSchema,
  ReleaseVersionSchema,
} from '../../protocols/connhex/schemas.js';
import { encodeStatement } from '../../protocols/signed-statement.js';
import { writeZip, type ZipEntryInput } from './zip-writer.js';

/** Which devices a release is for. */
export type ConnhexReleaseScope =
  /** Every device endpoint without a release of its own. */
  | { kind: 'default' }
  /** One device: its endpoint `/iot/ota/<initId>`. */
  | { kind: 'device'; initId: string }
  /** The artifact endpoint of one firmware: `/iot/firmwares/<firmwareId>/artifact`. */
  | { kind: 'firmware'; firmwareId: string };

/** A release as the endpoint serves it: its headers, and its bytes or where they live. */
export interface StoredConnhexRelease {
  readonly scope: ConnhexReleaseScope;
  /** What `HEAD` answers (version, size, SHA-256, ETag…). */
  readonly metadata: Readonly<ReleaseMetadata>;
  /** The `.zip`, when this endpoint serves it; `undefined` when `GET` redirects to `location`. */
  readonly bytes: Uint8Array | undefined;
  /** Where `GET` redirects to, for a release whose `.zip` lives elsewhere (a CDN, a bucket). */
  readonly location: string | undefined;
  /** ISO 8601 time it was published. */
  readonly publishedAt: string;
  /**
   * The signed statement of the release's signed manifest (JSON), served at
   * `<endpoint>.otakit.json`; absent for an unsigned release.
   */
  readonly statement?: string;
}

/** The files of a release, when {@link ConnhexReleases.publish} makes the `.zip`. */
export type ConnhexReleaseFiles = Readonly<Record<string, string | Uint8Array>> | readonly ZipEntryInput[];

export interface ConnhexReleaseInput {
  /** The release version, sent in the `Version` header; a device runs any version other than its own. */
  version: string;
  /** The `.zip`, made already (it must hold `update.sh` at its root). Exactly one of `zip` and `files`. */
  zip?: Uint8Array;
  /** The files to zip (deflated where that helps; `update.sh` and `*.sh` executable). */
  files?: ConnhexReleaseFiles;
  /** The `update.sh` to add to `files` (the script the device runs in the extracted folder). */
  updateScript?: string;
  /** Only this device (its endpoint `/iot/ota/<initId>`). */
  initId?: string;
  /** The artifact endpoint of this firmware instead of a device endpoint. */
  firmwareId?: string;
  /** Lowest installed version the release applies to (`Min-Version`, inclusive). */
  minVersion?: string;
  /** Installed versions from this one up are not eligible (`Max-Version`, exclusive). */
  maxVersion?: string;
  /** The file name in `Content-Disposition`. @default 'release.zip' */
  fileName?: string;
  /**
   * The release's signed manifest (id and version the release version, its artifact the release
   * endpoint's URL with this `.zip`'s size and SHA-256, signed): served as its signed statement at
   * `<endpoint>.otakit.json` for otakit devices to check before downloading. Make the `.zip`
   * with {@link ConnhexReleases.addPackage} first to know its SHA-256.
   * @default none: the release is unsigned
   */
  manifest?: Manifest | ManifestInput;
}

/**
 * The signed statement of a release's manifest, checked to be this release's (signed, its
 * version, the same size and SHA-256 where it states them).
 * @throws ManifestError naming the field.
 */
function statementOf(manifest: Manifest | ManifestInput, metadata: ReleaseMetadata): string {
  const valid = parseManifest(manifest);
  const issues: Array<{ path: string; expected: string }> = [];
  if (valid.signature === undefined)
    issues.push({ path: 'manifest.signature', expected: 'a signed manifest' });
  if (valid.version !== metadata.version || valid.id !== metadata.version) {
    issues.push({ path: 'manifest.version', expected: 'the release version (as id and version)' });
  }
  const artifact = valid.artifacts[0]!;
  if (valid.artifacts.length !== 1)
    issues.push({ path: 'manifest.artifacts', expected: 'one artifact (the .zip)' });
  if (artifact.sha256 !== undefined && metadata.sha256 !== undefined && artifact.sha256 !== metadata.sha256) {
    issues.push({ path: 'manifest.artifacts[0].sha256', expected: 'the SHA-256 of the release .zip' });
  }
  if (artifact.size !== undefined && metadata.size !== undefined && artifact.size !== metadata.size) {
    issues.push({ path: 'manifest.artifacts[0].size', expected: 'the size of the release .zip' });
  }
  if (issues.length > 0) throw new ManifestError('Connhex release', issues);
  return encodeStatement(valid)!;
}

/** The scope a publish, a withdrawal or a lookup names. */
export type ConnhexReleaseScopeInput = { initId?: string; firmwareId?: string };

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function scopeOf(input: ConnhexReleaseScopeInput): ConnhexReleaseScope {
  const { initId, firmwareId } = input;
  if (initId !== undefined && firmwareId !== undefined) {
    throw new OtaError('CONFIG', 'Connhex release: give initId or firmwareId, not both');
  }
  for (const [name, value] of [
    ['initId', initId],
    ['firmwareId', firmwareId],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '' || value.length > 256)) {
      throw new OtaError(
        'CONFIG',
        `Connhex release: ${name} must be a non-empty id of at most 256 characters`,
      );
    }
  }
  if (initId !== undefined) return { kind: 'device', initId };
  if (firmwareId !== undefined) return { kind: 'firmware', firmwareId };
  return { kind: 'default' };
}

function keyOf(scope: ConnhexReleaseScope): string {
  if (scope.kind === 'device') return `device:${scope.initId}`;
  if (scope.kind === 'firmware') return `firmware:${scope.firmwareId}`;
  return 'default';
}

function entriesOf(files: ConnhexReleaseFiles): ZipEntryInput[] {
  return Array.isArray(files)
    ? [...(files as readonly ZipEntryInput[])]
    : Object.entries(files as Record<string, string | Uint8Array>).map(([name, data]) => ({ name, data }));
}

/** The `.zip` of `input`, made when files were given, and checked: `update.sh` at the root, no escaping names. */
function packageOf(input: ConnhexReleaseInput): Uint8Array {
  if ((input.zip === undefined) === (input.files === undefined)) {
    throw new OtaError('CONFIG', 'Connhex release: give exactly one of zip and files');
  }
  if (input.zip !== undefined) {
    if (!(input.zip instanceof Uint8Array) || input.zip.length === 0) {
      throw new OtaError('CONFIG', 'Connhex release: zip must be the non-empty bytes of a .zip');
    }
    if (input.updateScript !== undefined) {
      throw new OtaError('CONFIG', 'Connhex release: updateScript goes with files, not with a finished zip');
    }
    return input.zip;
  }
  const entries = entriesOf(input.files!);
  if (input.updateScript !== undefined) {
    entries.unshift({ name: RELEASE_PACKAGE.entrypoint, data: input.updateScript, mode: 0o755 });
  }
  // Refused here rather than on every device: the agent would report update_failed for each.
  checkPackageEntries(entries.map((entry) => entry.name));
  return writeZip(entries);
}

/** The ETag of a `.zip`: strong, from its digest, so a resumed download knows it is the same file. */
export function releaseEtag(sha256: string): string {
  return `"${sha256.slice(0, 32)}"`;
}

/**
 * The releases of one Connhex release endpoint. In memory: a service restart publishes again
 * (the releases are the service's own configuration, the fleet keeps what devices reported).
 *
 * @example
 * ```ts
 * const releases = new ConnhexReleases()
 * releases.publish({ version: '1.4.0', files: { 'app.py': source }, updateScript: '#!/bin/sh\nsystemctl restart app\n' })
 * releases.publish({ version: '1.4.1-rc1', zip, initId: 'edge-7' }) // one device tries it first
 * ```
 */
export class ConnhexReleases {
  readonly #releases = new Map<string, StoredConnhexRelease>();
  /** Packages uploaded for a later `PUT` of the release JSON, by SHA-256. */
  readonly #packages = new Map<string, Uint8Array>();
  readonly #now: () => Date;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Publishes a release for every device, one device (`initId`) or one firmware's artifact
   * endpoint (`firmwareId`), replacing the one there.
   *
   * @throws OtaError (`CONFIG`) for a bad input; InstallError for a package without `update.sh`
   *   at its root; ManifestError for a version that cannot travel in a header.
   */
  publish(input: ConnhexReleaseInput): StoredConnhexRelease {
    if (typeof input !== 'object' || input === null) {
      throw new OtaError('CONFIG', 'Connhex release: publish needs { version, zip | files }');
    }
    const scope = scopeOf(input);
    parseWith(ReleaseVersionSchema, input.version, 'Connhex release version');
    const bytes = packageOf(input);
    const sha256 = sha256Hex(bytes);
    const metadata = parseWith(
      ReleaseMetadataSchema,
      {
        version: input.version,
        size: bytes.length,
        sha256,
        etag: releaseEtag(sha256),
        contentType: 'application/zip',
        fileName: input.fileName ?? 'release.zip',
        ...(input.minVersion === undefined ? {} : { minVersion: input.minVersion }),
        ...(input.maxVersion === undefined ? {} : { maxVersion: input.maxVersion }),
      },
      'Connhex release',
    );
    const statement = input.manifest === undefined ? undefined : statementOf(input.manifest, metadata);
    return this.#swap({
      scope,
      metadata,
      bytes,
      location: undefined,
      ...(statement === undefined ? {} : { statement }),
    });
  }

  /**
   * Publishes a release whose `.zip` lives elsewhere: `HEAD` answers `metadata`, `GET` redirects
   * to `location` (what a `PUT` of the protocol's release JSON naming another URL does).
   */
  publishRedirect(
    scope: ConnhexReleaseScopeInput,
    metadata: ReleaseMetadata,
    location: string,
    /** The release's signed manifest, as for {@link ConnhexReleases.publish}. */
    manifest?: Manifest | ManifestInput,
  ): StoredConnhexRelease {
    const valid = parseWith(ReleaseMetadataSchema, metadata, 'Connhex release');
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw new OtaError('CONFIG', 'Connhex release: the download location must be an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new OtaError('CONFIG', 'Connhex release: the download location must be an http(s) URL');
    }
    const statement = manifest === undefined ? undefined : statementOf(manifest, valid);
    return this.#swap({
      scope: scopeOf(scope),
      metadata: valid,
      bytes: undefined,
      location: url.href,
      ...(statement === undefined ? {} : { statement }),
    });
  }

  /** Removes the release of a scope (every device's when none is named); `false` when there was none. */
  withdraw(scope: ConnhexReleaseScopeInput = {}): boolean {
    return this.#releases.delete(keyOf(scopeOf(scope)));
  }

  /** The release a device endpoint serves: the device's own, else the one for every device. */
  forDevice(initId: string): StoredConnhexRelease | undefined {
    return this.#releases.get(keyOf({ kind: 'device', initId })) ?? this.#releases.get('default');
  }

  /** The release an artifact endpoint serves. */
  forFirmware(firmwareId: string): StoredConnhexRelease | undefined {
    return this.#releases.get(keyOf({ kind: 'firmware', firmwareId }));
  }

  /** The release published for exactly this scope (no fallback). */
  get(scope: ConnhexReleaseScopeInput = {}): StoredConnhexRelease | undefined {
    return this.#releases.get(keyOf(scopeOf(scope)));
  }

  /**
   * Keeps a `.zip` (made from `files` when given) without publishing it, so that a `PUT` of the
   * protocol's release JSON (`createUpdatePublisher(…).publish`) can name it by its SHA-256 with
   * the release endpoint's own URL. Returns what the manifest's artifact needs.
   */
  addPackage(input: Pick<ConnhexReleaseInput, 'zip' | 'files' | 'updateScript'>): {
    sha256: string;
    size: number;
  } {
    const bytes = packageOf({ version: '0', ...input });
    const sha256 = sha256Hex(bytes);
    this.#packages.set(sha256, bytes);
    return { sha256, size: bytes.length };
  }

  /** Forgets a package kept by {@link addPackage} (releases published with it keep their bytes). */
  removePackage(sha256: string): boolean {
    return this.#packages.delete(sha256);
  }

  /** A `.zip` kept by {@link addPackage} or published under some scope, by its SHA-256. */
  packageBySha256(sha256: string): Uint8Array | undefined {
    const kept = this.#packages.get(sha256);
    if (kept !== undefined) return kept;
    for (const release of this.#releases.values()) {
      if (release.bytes !== undefined && release.metadata.sha256 === sha256) return release.bytes;
    }
    return undefined;
  }

  /** Every release published now. */
  list(): StoredConnhexRelease[] {
    return [...this.#releases.values()];
  }

  #swap(release: Omit<StoredConnhexRelease, 'publishedAt'>): StoredConnhexRelease {
    const stored: StoredConnhexRelease = Object.freeze({
      ...release,
      metadata: Object.freeze({ ...release.metadata }),
      publishedAt: this.#now().toISOString(),
    });
    // One assignment: a request holding the previous release finishes with it.
    this.#releases.set(keyOf(release.scope), stored);
    return stored;
  }
}
