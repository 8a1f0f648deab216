/**
 * The Connhex release package (docs/protocols/connhex.md, "Releases"): a `.zip` with `update.sh` at its root,
 * downloaded into `<install dir>/.store/ota/`, extracted into `.store/ota/current/`, where
 * `update.sh` runs. This file holds the rules an installer checks before extracting a byte; the
 * extraction and the script run live in `otakit/node`.
 *
 * @module
 */
import { InstallError } from '../../core/errors.js';
import { LIMITS } from './limits.js';
import { CONTROL_CHARACTER } from './text.js';

/** The fixed facts of a Connhex release package. */
export const RELEASE_PACKAGE = {
  /** The release file is a zip archive. */
  format: 'zip',
  /** The script run after extraction, at the zip root. */
  entrypoint: 'update.sh',
  /** Download folder, relative to the Edge install dir. */
  storeDir: '.store/ota',
  /** Extraction folder (and the script's working directory), relative to the Edge install dir. */
  extractDir: '.store/ota/current',
} as const;

/** The usual Connhex Edge install dir (the documentation's examples use it). */
export const DEFAULT_INSTALL_DIR = '/opt/connhex';

/** Where a release goes on the device. */
export interface StorePaths {
  /** Folder the `.zip` is downloaded into. */
  storeDir: string;
  /** Folder it is extracted into; `update.sh` runs here. */
  extractDir: string;
  /** Full path of the script. */
  entrypoint: string;
}

/**
 * The download and extraction folders for an Edge install dir (POSIX paths, no file system access).
 *
 * @throws InstallError when `installDir` is not an absolute POSIX path without `..`.
 *
 * @example
 * ```ts
 * storePaths('/opt/connhex').extractDir // '/opt/connhex/.store/ota/current'
 * ```
 */
export function storePaths(installDir: string = DEFAULT_INSTALL_DIR): StorePaths {
  if (
    typeof installDir !== 'string' ||
    !installDir.startsWith('/') ||
    installDir.split('/').includes('..') ||
    CONTROL_CHARACTER.test(installDir)
  ) {
    throw new InstallError('Connhex install dir must be an absolute POSIX path without ".."');
  }
  const root = installDir.replace(/\/+$/, '');
  const extractDir = `${root}/${RELEASE_PACKAGE.extractDir}`;
  return {
    storeDir: `${root}/${RELEASE_PACKAGE.storeDir}`,
    extractDir,
    entrypoint: `${extractDir}/${RELEASE_PACKAGE.entrypoint}`,
  };
}

/** One entry of the release `.zip`, as a zip reader lists it. */
export interface PackageEntry {
  /** The entry name (`/`-separated; directories end with `/`). */
  name: string;
  /** What the entry is, when the reader knows. Links and special files are refused. */
  type?: 'file' | 'directory' | 'symlink' | 'other';
  /** Uncompressed size in bytes, when known. */
  size?: number;
}

/** The entries that passed {@link checkPackageEntries}. */
export interface CheckedPackage {
  /** `update.sh`, found at the zip root. */
  entrypoint: typeof RELEASE_PACKAGE.entrypoint;
  /** Normalised file names (no `./`, no directories), in archive order. */
  files: string[];
  /** Sum of the known uncompressed sizes. */
  totalBytes: number;
}

function shown(name: string): string {
  return JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name);
}

/**
 * Checks the entry list of a release `.zip` before extraction: `update.sh` must be a file at
 * the root (C10: a release without it is `update_failed`), and no entry may escape the extraction
 * folder (zip-slip: absolute paths, drive letters, `..`, backslashes), be a link or special file,
 * appear twice, or push the total past {@link LIMITS}.maxPackageBytes.
 *
 * @throws InstallError (code `INSTALL`) naming the first offending entry.
 *
 * @example
 * ```ts
 * checkPackageEntries([{ name: 'update.sh' }, { name: 'new_service.py' }])
 * // { entrypoint: 'update.sh', files: ['update.sh', 'new_service.py'], totalBytes: 0 }
 * ```
 */
export function checkPackageEntries(entries: readonly (PackageEntry | string)[]): CheckedPackage {
  if (entries.length > LIMITS.maxPackageEntries) {
    throw new InstallError(`Release package lists more than ${LIMITS.maxPackageEntries} entries`);
  }
  const files: string[] = [];
  const seen = new Set<string>();
  let totalBytes = 0;
  for (const item of entries) {
    const entry: PackageEntry = typeof item === 'string' ? { name: item } : item;
    const { name } = entry;
    if (typeof name !== 'string' || name === '' || name.length > LIMITS.maxPackageEntryNameLength) {
      throw new InstallError('Release package has an entry with an empty or overlong name');
    }
    if (CONTROL_CHARACTER.test(name)) {
      throw new InstallError(`Release package entry ${shown(name)} has control characters in its name`);
    }
    if (name.includes('\\')) {
      throw new InstallError(`Release package entry ${shown(name)} uses "\\" as a path separator`);
    }
    if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) {
      throw new InstallError(`Release package entry ${shown(name)} is an absolute path`);
    }
    const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
    if (segments.includes('..')) {
      throw new InstallError(`Release package entry ${shown(name)} escapes the extraction folder`);
    }
    if (entry.type === 'symlink' || entry.type === 'other') {
      throw new InstallError(`Release package entry ${shown(name)} is a link or special file`);
    }
    if (entry.size !== undefined) {
      if (!Number.isSafeInteger(entry.size) || entry.size < 0) {
        throw new InstallError(`Release package entry ${shown(name)} has an invalid size`);
      }
      totalBytes += entry.size;
      if (totalBytes > LIMITS.maxPackageBytes) {
        throw new InstallError(`Release package expands to more than ${LIMITS.maxPackageBytes} bytes`);
      }
    }
    const isDirectory = entry.type === 'directory' || name.endsWith('/');
    if (isDirectory || segments.length === 0) continue;
    const normalised = segments.join('/');
    if (seen.has(normalised)) {
      throw new InstallError(`Release package lists ${shown(normalised)} twice`);
    }
    seen.add(normalised);
    files.push(normalised);
  }
  if (!seen.has(RELEASE_PACKAGE.entrypoint)) {
    const nested = files.find((file) => file.endsWith(`/${RELEASE_PACKAGE.entrypoint}`));
    throw new InstallError(
      nested === undefined
        ? 'Release package has no update.sh at its root'
        : `Release package has no update.sh at its root (found ${shown(nested)}: zip the folder's contents, not the folder)`,
    );
  }
  return { entrypoint: RELEASE_PACKAGE.entrypoint, files, totalBytes };
}

/**
 * The error for an `update.sh` that did not succeed (C7): the addon reports `update_failed` with
 * a non-empty `error`. Success is exit status 0 **[inferred]**.
 *
 * @returns `undefined` for exit status 0, else an {@link InstallError} describing the failure.
 */
export function updateScriptResult(exit: {
  code: number | null;
  signal?: string | null;
}): InstallError | undefined {
  if (exit.code === 0) return undefined;
  if (exit.code === null) {
    return new InstallError(`update.sh was terminated by ${exit.signal ?? 'a signal'}`);
  }
  return new InstallError(`update.sh exited with status ${exit.code}`);
}
