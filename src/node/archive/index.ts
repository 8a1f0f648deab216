/**
 * Safe archive extraction for `otakit/node`: `.tar`, `.tar.gz` (also insigh.io packages) and
 * `.zip` into a staging directory, with zip-slip, link, special-file, duplicate and bomb
 * protection. See docs/install.md#archives.
 *
 * @example
 * ```ts
 * import { extractArchive, isArchiveError } from 'otakit/node'
 *
 * try {
 *   await extractArchive('/data/ota/release.zip', '/data/ota/current.otakit-new', { signal })
 * } catch (error) {
 *   if (isArchiveError(error)) report(error.reason, error.entry)
 *   throw error
 * }
 * ```
 *
 * @module
 */
export { ArchiveError, type ArchiveErrorReason, isArchiveError } from '../../archive/errors.js';
export {
  type ExtractArchiveOptions,
  type ExtractArchiveResult,
  extractArchive,
} from './extract.js';
export { type ArchiveLimits, DEFAULT_ARCHIVE_LIMITS } from './limits.js';
export { type ArchiveFormat, sniffArchiveFormat } from './sniff.js';
export type { ArchiveSource } from './source.js';
export type { ExtractedEntry } from './staging.js';
