/**
 * The device's local `version` file, as the micropython_ota agent reads it: the tag of the
 * release the app directory holds. The reference compares the server's tag with this file and
 * nothing else, so the agent keeps its persisted state subordinate to it: a lost state is rebuilt
 * from the file, and a file that says something else than the state (deleted by hand to force an
 * update, or never written because its write failed) wins at the next start.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { UpdateRef } from '../../core/status.js';
import type { JsonValue, StateStore } from '../../core/store.js';
import { machineStoreKey } from '../../machine/machine-base.js';
import { LIMITS } from '../../protocols/micropython-ota/limits.js';
import { isVersionTag } from '../../protocols/micropython-ota/names.js';
import { readLocalVersion } from '../../protocols/micropython-ota/version-file.js';
import { errorCode } from '../install/durable-fs.js';

/**
 * The tag in the version file at `path`: its first line, stripped, as the reference reads it.
 * `null` when the file is missing, or holds no valid tag (too large, not UTF-8, not a tag): the
 * reference's empty local version, which differs from every tag, so the next check updates.
 */
export async function readVersionFile(path: string): Promise<string | null> {
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return null;
    throw error;
  }
  if (content.byteLength > LIMITS.versionFileBytes) return null;
  try {
    const tag = readLocalVersion(new Uint8Array(content));
    return isVersionTag(tag) ? tag : null;
  } catch {
    return null;
  }
}

/** The update a tag of `project` stands for: the id `toCanonical` gives its manifest. */
export function releaseRef(project: string, tag: string): UpdateRef {
  return { id: `${project}@${tag}`, version: tag };
}

/**
 * Makes the machine adopt the version file when the two disagree: when the machine is idle (no
 * update under way, which the machine alone can finish) and its committed version is not the
 * file's tag, its record is deleted, so `resume()` rebuilds it with the `recover` hook, which
 * reads the file. Resolves whether it did.
 */
export async function adoptVersionFile(
  store: StateStore,
  machineId: string,
  tag: string | null,
): Promise<boolean> {
  const key = machineStoreKey(machineId);
  const record = (await store.get(key)) as
    | { state?: JsonValue; current?: { version?: JsonValue } | null }
    | undefined;
  if (record === undefined || record === null || typeof record !== 'object') return false;
  if (record.state !== 'idle') return false;
  const stored = record.current?.version ?? null;
  if (stored === tag) return false;
  await store.delete(key);
  return true;
}
