/**
 * The end of a staged download, shared by every agent's install hooks.
 *
 * @module
 */
import { rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Removes the downloaded files, and their update's staging directory once it is empty, when the
 * update has ended either way (committed, rolled back or refused), so the next one starts clean
 * and no empty directory per update piles up.
 */
export async function dropStaged(staged: readonly { location: string }[] | null): Promise<void> {
  const folders = new Set<string>();
  for (const artifact of staged ?? []) {
    await rm(artifact.location, { force: true });
    folders.add(dirname(artifact.location));
  }
  // rmdir, not rm -r: a directory that still holds something is not ours to empty.
  for (const folder of folders) await rmdir(folder).catch(() => {});
}
