/**
 * The one policy for entry names in an archive, shared by every reader otakit has: the Node
 * extractor (`otakit/node`, tar and zip) and the browser-safe insigh.io tar reader. An entry name
 * either becomes a safe path relative to the destination, or is refused with the same
 * {@link ArchiveError} reason whichever reader met it.
 *
 * Refused: empty names, NUL bytes, absolute paths (`/x`, `\x`, `C:x`), `..` components, any
 * backslash, and names longer than Linux allows.
 *
 * Why a backslash is refused rather than read as a separator: it is an ordinary character in a
 * POSIX file name and a separator on Windows, so any reading of it is a guess that another tool
 * (the reference device firmware writes `a\b` as one file name) makes differently, and the same
 * package would install different trees. No writer otakit expects produces one: Python's
 * `tarfile` (microfreezer), GNU and BSD tar write `/`, and the zip specification (APPNOTE 4.4.17)
 * requires forward slashes. Refusing is the stricter of the two readings, and it costs no
 * legitimate package.
 *
 * @module
 */
import { ArchiveError } from './errors.js';

/** A safe, normalised entry path. */
export interface EntryPath {
  /** The components, none empty, `.` or `..`. Empty for the archive root itself (`./`). */
  readonly segments: readonly string[];
  /** The components joined with `/`: how the entry is reported. Empty for the root. */
  readonly path: string;
  /** The name ended with `/`, which zip (and old tar) use to mark a directory. */
  readonly trailingSlash: boolean;
}

/** Linux NAME_MAX: a longer component fails at open() anyway; refuse it with a clear reason. */
const MAX_SEGMENT_BYTES = 255;
/** Linux PATH_MAX. */
const MAX_PATH_BYTES = 4096;
const DRIVE_LETTER = /^[A-Za-z]:/;
const encoder = new TextEncoder();

/**
 * Normalises `name` (empty and `.` components dropped) or refuses it.
 *
 * Traversal is judged with backslashes read as separators too, so `..\x`, `\x` and `C:\x` are
 * reported as the traversal attempts they are on Windows; any other backslash is an
 * `invalid-name`.
 *
 * @throws {ArchiveError} `path-traversal` for absolute paths, drive letters and `..`;
 * `invalid-name` for empty names, NUL bytes, backslashes and over-long names.
 *
 * @example
 * ```ts
 * normaliseEntryPath('./apps//main.py').path // 'apps/main.py'
 * normaliseEntryPath('..\\boot.py')          // throws ArchiveError 'path-traversal'
 * ```
 */
export function normaliseEntryPath(name: string): EntryPath {
  if (name.length === 0) throw new ArchiveError('invalid-name', 'Entry has an empty name; refused');
  if (name.includes('\0')) {
    throw new ArchiveError('invalid-name', 'Entry name contains a NUL byte; refused', { entry: name });
  }
  const asWindowsReadsIt = name.replaceAll('\\', '/');
  if (asWindowsReadsIt.startsWith('/')) {
    throw new ArchiveError('path-traversal', 'Entry has an absolute path; refused', { entry: name });
  }
  if (DRIVE_LETTER.test(asWindowsReadsIt)) {
    throw new ArchiveError('path-traversal', 'Entry path starts with a drive letter; refused', {
      entry: name,
    });
  }
  // Refused even when it would resolve inside (`a/../b`): no legitimate package needs it.
  if (asWindowsReadsIt.split('/').includes('..')) {
    throw new ArchiveError('path-traversal', 'Entry path climbs out with ".."; refused', { entry: name });
  }
  if (name.includes('\\')) {
    throw new ArchiveError('invalid-name', 'Entry name contains a backslash; refused', { entry: name });
  }
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  // `./c:x` normalises to `c:x`, which Windows reads as drive-relative: judge the first
  // component as it will be written, not only the raw name.
  if (DRIVE_LETTER.test(segments[0] ?? '')) {
    throw new ArchiveError('path-traversal', 'Entry path starts with a drive letter; refused', {
      entry: name,
    });
  }
  for (const segment of segments) {
    if (encoder.encode(segment).length > MAX_SEGMENT_BYTES) {
      throw new ArchiveError(
        'invalid-name',
        `Entry path has a component longer than ${MAX_SEGMENT_BYTES} bytes; refused`,
        { entry: name },
      );
    }
  }
  const path = segments.join('/');
  if (encoder.encode(path).length > MAX_PATH_BYTES) {
    throw new ArchiveError('invalid-name', `Entry path is longer than ${MAX_PATH_BYTES} bytes; refused`, {
      entry: name,
    });
  }
  return { segments, path, trailingSlash: name.endsWith('/') };
}
