/**
 * Turns an entry name from an archive into a path relative to the staging directory, or refuses
 * it. This is the zip-slip guard: whatever passes here has no absolute prefix, no drive letter
 * and no `..` component, so joining it under the staging directory stays under it.
 *
 * @module
 */
import { ArchiveError } from '../../archive/errors.js';

/** A safe, normalised entry path. */
export interface EntryPath {
  /** The components, none empty, `.` or `..`. Empty for the archive root itself (`./`). */
  readonly segments: readonly string[];
  /** The components joined with `/`: how the entry is reported. Empty for the root. */
  readonly path: string;
  /** The name ended with a separator, which zip (and old tar) use to mark a directory. */
  readonly trailingSlash: boolean;
}

/** Linux NAME_MAX: a longer component fails at open() anyway; refuse it with a clear reason. */
const MAX_SEGMENT_BYTES = 255;
/** Linux PATH_MAX. */
const MAX_PATH_BYTES = 4096;
const DRIVE_LETTER = /^[A-Za-z]:/;
const encoder = new TextEncoder();

/**
 * Normalises `name`: backslashes count as separators (Windows tools write them, and a
 * backslash form of `..\` must not slip through), empty and `.` components are dropped.
 *
 * @throws {ArchiveError} `path-traversal` for absolute paths, drive letters and `..`;
 * `invalid-name` for empty names, NUL bytes and over-long names.
 */
export function normaliseEntryPath(name: string): EntryPath {
  if (name.length === 0) throw new ArchiveError('invalid-name', 'Entry has an empty name');
  if (name.includes('\0'))
    throw new ArchiveError('invalid-name', 'Entry name contains a NUL byte', { entry: name });
  const slashed = name.replaceAll('\\', '/');
  if (slashed.startsWith('/')) {
    throw new ArchiveError('path-traversal', 'Entry has an absolute path', { entry: name });
  }
  if (DRIVE_LETTER.test(slashed)) {
    throw new ArchiveError('path-traversal', 'Entry path starts with a drive letter', { entry: name });
  }
  const segments: string[] = [];
  for (const segment of slashed.split('/')) {
    if (segment === '' || segment === '.') continue;
    // Refused even when it would resolve inside (`a/../b`): no legitimate package needs it.
    if (segment === '..') {
      throw new ArchiveError('path-traversal', 'Entry path has a ".." component', { entry: name });
    }
    if (encoder.encode(segment).length > MAX_SEGMENT_BYTES) {
      throw new ArchiveError(
        'invalid-name',
        `Entry path has a component longer than ${MAX_SEGMENT_BYTES} bytes`,
        {
          entry: name,
        },
      );
    }
    segments.push(segment);
  }
  const path = segments.join('/');
  if (encoder.encode(path).length > MAX_PATH_BYTES) {
    throw new ArchiveError('invalid-name', `Entry path is longer than ${MAX_PATH_BYTES} bytes`, {
      entry: name,
    });
  }
  return { segments, path, trailingSlash: slashed.endsWith('/') };
}
