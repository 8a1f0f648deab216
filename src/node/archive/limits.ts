/**
 * The caps that stop an archive from exhausting disk, inodes or time, with their defaults in one
 * place. Each is enforced twice: against what headers declare (to refuse early, before a byte is
 * written) and against the bytes actually produced (because headers lie).
 *
 * @module
 */
import { OtaError } from '../../core/errors.js';

/** Limits on what one archive may extract. `Infinity` disables a limit. */
export interface ArchiveLimits {
  /**
   * Most bytes all files together may hold once extracted.
   * @default 536870912 (512 MiB)
   */
  maxTotalBytes: number;
  /**
   * Most bytes one file may hold once extracted.
   * @default 536870912 (512 MiB)
   */
  maxEntryBytes: number;
  /**
   * Most entries (files and directories; tar's pax and long-name headers are not counted).
   * @default 10000
   */
  maxEntries: number;
  /**
   * Most bytes decompressed per compressed byte read, over the archive so far. Checked only once
   * more than 1 MiB has been decompressed, so a small archive holding one zero-padded file
   * passes. Deflate reaches about 1030:1 on zeros; real update payloads (code, configuration,
   * binaries) stay far below 100:1, the threshold Apache POI uses against zip bombs. Not
   * applied to plain `.tar`, which is not compressed.
   * @default 100
   */
  maxCompressionRatio: number;
}

/** The limits used for any field not given. */
export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxTotalBytes: 512 * 1024 * 1024,
  maxEntryBytes: 512 * 1024 * 1024,
  maxEntries: 10_000,
  maxCompressionRatio: 100,
});

/** The ratio is not judged before this many bytes were decompressed (see `maxCompressionRatio`). */
export const RATIO_GRACE_BYTES = 1024 * 1024;

/** Fills in defaults and refuses values that would silently disable a limit (NaN, negatives). */
export function resolveArchiveLimits(limits: Partial<ArchiveLimits> | undefined): ArchiveLimits {
  const resolved = { ...DEFAULT_ARCHIVE_LIMITS, ...limits };
  for (const key of Object.keys(DEFAULT_ARCHIVE_LIMITS) as (keyof ArchiveLimits)[]) {
    const value = resolved[key];
    // `undefined` spread over a default would erase it; treat it as "not given".
    if (value === undefined) {
      resolved[key] = DEFAULT_ARCHIVE_LIMITS[key];
      continue;
    }
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new OtaError(
        'CONFIG',
        `Archive limit ${key} must be a number >= 0 or Infinity, got ${String(value)}`,
      );
    }
  }
  if (resolved.maxCompressionRatio < 1) {
    throw new OtaError(
      'CONFIG',
      `Archive limit maxCompressionRatio must be >= 1, got ${resolved.maxCompressionRatio}`,
    );
  }
  return resolved;
}
