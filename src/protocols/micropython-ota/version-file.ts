/**
 * The `version` files of micropython_ota (docs/protocols/micropythonOta.md): the server's, which
 * names the release devices should run, and the device's, which names the release it runs. The
 * client compares the two as opaque strings; any difference, an older tag included, is an update (that
 * is the documented rollback mechanism).
 *
 * @module
 */
import { ManifestError, type OtaError, toOtaError } from '../../core/errors.js';
import { toValidationIssues } from '../../core/validate.js';
import { wireText } from '../../core/wire.js';
import { LIMITS } from './limits.js';
import { pyStrip, VersionTagSchema } from './names.js';

export interface VersionFileOptions {
  /**
   * Read the server's version as the reference does: the whole body, `.strip()`ed, unvalidated.
   * A body of `v2\nextra` then becomes the tag `v2\nextra`, which the device writes and reads
   * back as `v2`, so every boot sees a change: an update and reset loop (vector M15). Off: the
   * first line only, validated as a tag.
   * @default false
   */
  strictCompat?: boolean;
}

function text(input: unknown, what: string): string {
  const decoded = wireText(input, { what, maxBytes: LIMITS.versionFileBytes });
  if (typeof decoded === 'string') return decoded;
  throw new ManifestError(what, [{ path: '', expected: 'text (a string or UTF-8 bytes)' }]);
}

function firstLine(content: string): string {
  const end = content.indexOf('\n');
  return end === -1 ? content : content.slice(0, end);
}

/**
 * The version the device runs, from the content of its local `version` file: the first line,
 * stripped. A missing file (`null` or `undefined`) reads as `''`, which differs from every tag,
 * so the first run always updates.
 *
 * @throws ManifestError when the file is larger than `LIMITS.versionFileBytes` or not UTF-8.
 *
 * @example
 * ```ts
 * readLocalVersion(null)          // ''
 * readLocalVersion('v1.0.1\n')    // 'v1.0.1'
 * ```
 */
export function readLocalVersion(content: string | Uint8Array | null | undefined): string {
  if (content === null || content === undefined) return '';
  return pyStrip(firstLine(text(content, 'local version file')));
}

/**
 * The version the server offers, from the body of `{host}/{project}/version`.
 *
 * Hardened (default): a leading BOM is dropped, only the first line counts, and it must be a valid
 * tag (`VERSION_TAG_PATTERN`). `strictCompat`: the whole body, stripped, as the reference reads it.
 *
 * @throws ManifestError (`MANIFEST_INVALID`, path `version`) when the tag is invalid or empty, or
 *   the body is larger than `LIMITS.versionFileBytes` (in both modes).
 *
 * @example
 * ```ts
 * parseRemoteVersion('v1.0.1\n')           // 'v1.0.1'
 * parseRemoteVersion('v2\nextra')          // 'v2'
 * ```
 */
export function parseRemoteVersion(body: string | Uint8Array, options: VersionFileOptions = {}): string {
  const content = text(body, 'remote version file');
  if (options.strictCompat) return pyStrip(content);
  const tag = pyStrip(firstLine(content.replace(/^\uFEFF/, '')));
  const result = VersionTagSchema.safeParse(tag);
  if (result.success) return result.data;
  throw new ManifestError(
    'remote version file',
    toValidationIssues(result.error).map((issue) => ({ path: 'version', expected: issue.expected })),
  );
}

/**
 * What to write to the local `version` file once every file is in place: the tag, without a
 * trailing newline (as the reference writes it).
 */
export function encodeVersionFile(version: string): string {
  return version;
}

/** The server's answer to the version request, or the error that prevented one. */
export type VersionResponse = { status: number; body: string | Uint8Array } | { error: unknown };

/** How a version check ended. */
export type VersionCheckOutcome =
  /** The server offers a tag other than the local one: update (older tags included). */
  | 'changed'
  /** Same tag: nothing to do. */
  | 'unchanged'
  /** The server answered with a status other than 200. */
  | 'unavailable'
  /** The request failed (DNS, timeout, connection). */
  | 'error'
  /** The body is not a valid tag (hardened mode only). */
  | 'invalid';

/**
 * The result of a check. `changed` and `version` are the reference's `(changed, version)` tuple:
 * `version` is the remote tag when the server answered, else the local one.
 */
export interface VersionCheck {
  changed: boolean;
  version: string;
  outcome: VersionCheckOutcome;
  /** HTTP status, when the server answered. */
  status?: number;
  /**
   * Why the check could not decide. The reference prints and swallows these; otakit returns them
   * so "no update" and "failed check" can be told apart (security notes in
   * docs/protocols/micropythonOta.md).
   */
  error?: OtaError;
}

/**
 * `check_version` without the I/O: decides from the local tag (see `readLocalVersion`) and the
 * server's answer whether an update is available.
 *
 * @example
 * ```ts
 * evaluateVersionCheck(readLocalVersion(null), { status: 200, body: 'v1.0.1\n' })
 * // { changed: true, version: 'v1.0.1', outcome: 'changed', status: 200 }
 * ```
 */
export function evaluateVersionCheck(
  local: string,
  response: VersionResponse,
  options: VersionFileOptions = {},
): VersionCheck {
  // Given anything from plain JavaScript: a typed error naming the argument, never a TypeError.
  if (typeof local !== 'string') {
    throw new ManifestError('version check', [
      { path: 'local', expected: 'the local version tag (a string)' },
    ]);
  }
  if (typeof response !== 'object' || response === null) {
    throw new ManifestError('version check', [
      { path: 'response', expected: 'the server answer ({ status, body }) or the request error ({ error })' },
    ]);
  }
  if ('error' in response) {
    return {
      changed: false,
      version: local,
      outcome: 'error',
      error: toOtaError(response.error, 'TRANSPORT', true),
    };
  }
  const { status } = response;
  if (!Number.isInteger(status)) {
    throw new ManifestError('version check', [
      { path: 'response.status', expected: 'an HTTP status (an integer)' },
    ]);
  }
  if (status !== 200) return { changed: false, version: local, outcome: 'unavailable', status };
  let remote: string;
  try {
    remote = parseRemoteVersion(response.body, options);
  } catch (error) {
    return { changed: false, version: local, outcome: 'invalid', status, error: toOtaError(error, 'CHECK') };
  }
  const changed = remote !== local;
  return { changed, version: remote, outcome: changed ? 'changed' : 'unchanged', status };
}
