/**
 * Which paths an archive has claimed so far, so that no path is written twice and no file
 * stands where a directory is needed (or the reverse). Duplicates are refused rather than
 * resolved "last one wins": two tools reading the same archive must not install different trees.
 *
 * @module
 */

import { ArchiveError } from '../../archive/errors.js';
import { type EntryPath, normaliseEntryPath } from './entry-path.js';

export type EntryKind = 'file' | 'directory';

interface Claim {
  kind: EntryKind;
  /** Named by an entry of its own, rather than only implied as the parent of one. */
  explicit: boolean;
}

export interface Registration {
  /** Parent directories not claimed before, outermost first: they must be created. */
  readonly newParents: readonly string[];
  /** The entry's own path was not claimed before (a directory may have been implied). */
  readonly isNew: boolean;
}

export class EntryRegistry {
  readonly #claims = new Map<string, Claim>();

  /**
   * Claims `path` for an entry of `kind`, and its parents as directories.
   *
   * @throws {ArchiveError} `duplicate` when the path was named before, or a parent is a file, or
   * a file is named where a directory was implied.
   */
  claim(path: EntryPath, kind: EntryKind, name: string): Registration {
    const newParents: string[] = [];
    for (let depth = 1; depth < path.segments.length; depth++) {
      const parent = path.segments.slice(0, depth).join('/');
      const claim = this.#claims.get(parent);
      if (claim === undefined) {
        this.#claims.set(parent, { kind: 'directory', explicit: false });
        newParents.push(parent);
      } else if (claim.kind === 'file') {
        throw new ArchiveError(
          'duplicate',
          `Entry needs ${JSON.stringify(parent)} as a directory, but it is a file`,
          {
            entry: name,
          },
        );
      }
    }
    const existing = this.#claims.get(path.path);
    if (existing === undefined) {
      this.#claims.set(path.path, { kind, explicit: true });
      return { newParents, isNew: true };
    }
    // A directory first implied by a file inside it, then listed itself: zip tools write that order.
    if (kind === 'directory' && existing.kind === 'directory' && !existing.explicit) {
      existing.explicit = true;
      return { newParents, isNew: false };
    }
    throw new ArchiveError('duplicate', 'Archive has more than one entry for this path', { entry: name });
  }
}

/**
 * Normalises `name` and claims it in `registry`: the one gate every entry passes, whether it is
 * being written or (zip) checked before anything is written.
 */
export function claimEntry(
  registry: EntryRegistry,
  name: string,
  kind: EntryKind,
): { path: EntryPath; registration: Registration } {
  const path = normaliseEntryPath(name);
  if (kind === 'file' && (path.segments.length === 0 || path.trailingSlash)) {
    throw new ArchiveError('invalid-name', 'File entry has a directory name', { entry: name });
  }
  return { path, registration: registry.claim(path, kind, name) };
}
