/**
 * The device's own `version` file as a wire message. micropython_ota sends no status anywhere:
 * the only trace an update leaves is this file in the device's working directory, written last,
 * once every file is in place. The protocol object therefore "reports" `committed` by writing it
 * (`channel: 'file'`), and reads it back to tell a tracker which release a device runs.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import type { WireMessage } from '../contract.js';
import { DEFAULTS } from './limits.js';
import { versionTagProblem } from './names.js';
import { encodeVersionFile } from './version-file.js';

/** Addresses under which the device's `version` file is read: its name, or its path from `/`. */
export const LOCAL_VERSION_ADDRESSES: ReadonlySet<string> = new Set([
  DEFAULTS.versionFile,
  `/${DEFAULTS.versionFile}`,
]);

/**
 * Fails unless `version` is a tag the device can write and read back unchanged: a tag with a
 * newline, say, would read back as its first line and look like a change at every boot.
 *
 * @throws ManifestError (`MANIFEST_INVALID`, path `version`).
 */
export function checkVersionTag(version: unknown, what: string): string {
  const problem = versionTagProblem(version);
  if (problem === undefined) return version as string;
  throw new ManifestError(what, [{ path: 'version', expected: problem }]);
}

/**
 * The write of the device's `version` file: the tag, without a trailing newline, as the
 * reference writes it.
 *
 * @throws ManifestError when `version` is not a valid tag.
 */
export function localVersionMessage(version: unknown): WireMessage {
  const tag = checkVersionTag(version, 'micropython_ota local version file');
  return { channel: 'file', address: DEFAULTS.versionFile, payload: encodeVersionFile(tag) };
}
