/**
 * The installers move the previous version to the backup with rename(2), which only works within
 * one file system. Checking up front turns a late EXDEV (after staging a large update) into a
 * clear configuration error on the first install.
 *
 * @module
 */
import { mkdir, stat } from 'node:fs/promises';
import { OtaError } from '../../core/errors.js';

/** Creates both directories if needed and checks they are on the same device. */
export async function assertSameFileSystem(targetDirectory: string, backupDirectory: string): Promise<void> {
  await mkdir(targetDirectory, { recursive: true });
  if (backupDirectory === targetDirectory) return;
  await mkdir(backupDirectory, { recursive: true });
  const [target, backup] = await Promise.all([stat(targetDirectory), stat(backupDirectory)]);
  if (target.dev !== backup.dev) {
    throw new OtaError(
      'CONFIG',
      `The backup directory ${backupDirectory} is not on the file system of ${targetDirectory}; an atomic install needs both on one`,
    );
  }
}
