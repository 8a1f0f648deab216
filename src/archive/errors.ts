/**
 * The one error archive extraction throws for a refused or unreadable archive. It is an
 * {@link InstallError} (code `INSTALL`): extraction is the first step of an install, and an
 * archive that cannot be unpacked safely is an install failure, not an integrity one. Whether
 * the bytes match the publisher's digest was settled before (the verify step); this error says
 * "these bytes, even if authentic, are not something we unpack".
 *
 * @module
 */
import { InstallError, isOtaError, type OtaErrorOptions, type SerializedOtaError } from '../core/errors.js';

/**
 * Why an archive was refused.
 *
 * - `path-traversal`: an absolute path, a `..` component or a drive letter (`C:`)
 * - `invalid-name`: an empty name, a NUL byte, a name that is not UTF-8 (tar), or one too long
 * - `link`: a symbolic or hard link (never created)
 * - `special-file`: a device, FIFO, socket or any entry that is neither a file nor a directory
 * - `duplicate`: two entries for one path, or a file where a directory is needed (or the reverse)
 * - `too-large`: `maxEntryBytes` or `maxTotalBytes` exceeded (declared or actually written)
 * - `too-many-entries`: `maxEntries` exceeded
 * - `ratio`: `maxCompressionRatio` exceeded (a decompression bomb)
 * - `corrupt`: truncated or malformed data, a failed checksum, sizes that do not add up
 * - `unsupported`: a valid archive using a feature otakit does not unpack (encryption, a
 *   compression method other than stored/deflate, sparse or multi-volume tar, split zip)
 * - `destination`: the destination exists and is not an empty directory
 * - `io`: reading the source or writing the staging directory failed (disk full, permissions)
 */
export type ArchiveErrorReason =
  | 'path-traversal'
  | 'invalid-name'
  | 'link'
  | 'special-file'
  | 'duplicate'
  | 'too-large'
  | 'too-many-entries'
  | 'ratio'
  | 'corrupt'
  | 'unsupported'
  | 'destination'
  | 'io';

/** Long names are cut in messages and `entry`: a 1 MiB pax path must not flood a log line. */
const MAX_ENTRY_NAME_IN_ERROR = 256;

function shorten(name: string): string {
  return name.length > MAX_ENTRY_NAME_IN_ERROR ? `${name.slice(0, MAX_ENTRY_NAME_IN_ERROR)}…` : name;
}

/**
 * An archive was refused or could not be read. Nothing was left in the destination: the
 * partially extracted tree was removed before this was thrown. Never retryable: the same bytes
 * fail the same way.
 *
 * @example
 * ```ts
 * try { await extractArchive(file, staging) } catch (error) {
 *   if (isArchiveError(error) && error.reason === 'path-traversal') alarm(error.entry)
 * }
 * ```
 */
export class ArchiveError extends InstallError {
  override name = 'ArchiveError';
  readonly reason: ArchiveErrorReason;
  /**
   * The offending entry's name as written in the archive (cut to 256 characters), when one
   * entry is to blame. Entry names are not secrets, so they are safe to log and report.
   */
  readonly entry: string | undefined;

  constructor(
    reason: ArchiveErrorReason,
    message: string,
    options: Omit<OtaErrorOptions, 'retryable'> & { entry?: string } = {},
  ) {
    const entry = options.entry === undefined ? undefined : shorten(options.entry);
    // JSON.stringify escapes control characters, so a name cannot forge log lines.
    const where = entry === undefined ? '' : ` (entry ${JSON.stringify(entry)})`;
    super(`${message}${where}`, { code: 'INSTALL', retryable: false, cause: options.cause });
    this.reason = reason;
    this.entry = entry;
  }

  override toJSON(): SerializedOtaError & { reason: ArchiveErrorReason; entry?: string } {
    return {
      ...super.toJSON(),
      reason: this.reason,
      ...(this.entry === undefined ? {} : { entry: this.entry }),
    };
  }
}

/** Whether `value` is an {@link ArchiveError}, across realms and duplicated copies of otakit. */
export function isArchiveError(value: unknown): value is ArchiveError {
  return (
    isOtaError(value, 'INSTALL') &&
    (value as { name?: unknown }).name === 'ArchiveError' &&
    typeof (value as { reason?: unknown }).reason === 'string'
  );
}
