/**
 * The shadow service's store on the local file system: one JSON file per shadow, replaced
 * atomically by {@link FileStore} (temp file, fsync, rename, fsync of the directory), so after a
 * crash or a power cut each shadow holds its last accepted document, never a torn one.
 *
 * File names are the shadow's name in lower case (readable in `ls`) followed by a hash of its exact
 * name: AWS names are case-sensitive and may be 128 + 64 characters long, while macOS and Windows
 * file systems ignore case and every file system caps a name at 255 bytes.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { type StateShadowStoreOptions, stateShadowStore } from '../../cloud/shadow-service/state-store.js';
import { type ShadowStore, shadowKey } from '../../cloud/shadow-service/store.js';
import type { ShadowAddress } from '../../protocols/degu/topics.js';
import { FileStore, type FileStoreOptions } from '../file-store.js';

/** Characters of the readable part of a file name. */
const READABLE_LENGTH = 80;

/** `<readable>-<hash>`: unique per exact name, safe on every file system. */
export function shadowFileKey(address: ShadowAddress): string {
  const key = shadowKey(address);
  const readable = key
    .toLowerCase()
    .replace(/[^a-z0-9_~-]/g, '_')
    .slice(0, READABLE_LENGTH);
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return `${readable}-${hash}`;
}

export interface FileShadowStoreOptions extends FileStoreOptions {}

/**
 * @example
 * ```ts
 * const service = createShadowService({
 *   connection: await connectMqtt('mqtt://broker:1883', { clientId: 'shadow-service' }),
 *   store: createFileShadowStore('/var/lib/otakit/shadows'),
 * })
 * await service.start()
 * ```
 */
export function createFileShadowStore(directory: string, options: FileShadowStoreOptions = {}): ShadowStore {
  const key: StateShadowStoreOptions['key'] = shadowFileKey;
  return stateShadowStore(new FileStore(directory, options), { key });
}
