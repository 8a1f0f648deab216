/**
 * The file catalog: which release each console file id stands for. An insigh.io device reports
 * the file id only (`i`), never a version, so the service keeps the mapping it made when it
 * published, in a {@link StateStore} (one key per file id), to show the fleet the release and its
 * version. A restarted service reads the same keys: nothing published before is forgotten.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import type { JsonValue, StateStore } from '../../core/store.js';
import { parseWith } from '../../core/validate.js';
import { FileIdSchema } from '../../protocols/insighio/ids.js';

/** One published package and the release it carries. */
export interface CatalogEntry {
  /** The console file id (`fuid`, the order's `i`). */
  fileId: string;
  /** The order's `t`: `.tar` or `.tar.gz`. */
  fileType: string;
  /** The order's `s`, in bytes. */
  size: number;
  /** SHA-256 of the package, hex: the ETag the package server sends. */
  sha256: string;
  /** The release's id, as the fleet shows the update. */
  releaseId: string;
  /** The release's version, as the fleet shows it. */
  version: string;
  /** ISO 8601 time it was first published. */
  publishedAt: string;
}

/** The key prefix under which entries are stored. */
export const CATALOG_PREFIX = 'otakit.insighio.catalog/';

function isEntry(value: JsonValue | undefined): value is JsonValue & CatalogEntry {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const entry = value as Record<string, JsonValue>;
  return (
    typeof entry.fileId === 'string' &&
    typeof entry.fileType === 'string' &&
    typeof entry.size === 'number' &&
    typeof entry.sha256 === 'string' &&
    typeof entry.releaseId === 'string' &&
    typeof entry.version === 'string' &&
    typeof entry.publishedAt === 'string'
  );
}

/** File id → release, persisted in a {@link StateStore}, with a cache for synchronous lookups. */
export class ReleaseCatalog {
  readonly #store: StateStore;
  readonly #cache = new Map<string, CatalogEntry>();

  constructor(store: StateStore) {
    this.#store = store;
  }

  /**
   * Registers `entry` (again: publishing the same package twice is harmless).
   * @throws ManifestError when the file id already stands for another release or other bytes:
   * a device's report could no longer tell which one it installed.
   */
  async register(entry: CatalogEntry): Promise<CatalogEntry> {
    parseWith(FileIdSchema, entry.fileId, 'insigh.io file id');
    const known = await this.lookup(entry.fileId);
    if (known !== undefined) {
      if (
        known.releaseId !== entry.releaseId ||
        known.version !== entry.version ||
        known.sha256 !== entry.sha256
      ) {
        throw new ManifestError('insigh.io release', [
          { path: 'fileId', expected: 'a file id no other release or package was published under' },
        ]);
      }
      return known;
    }
    await this.#store.put(CATALOG_PREFIX + entry.fileId, { ...entry });
    this.#cache.set(entry.fileId, { ...entry });
    return entry;
  }

  /** The entry of `fileId`, read from the store the first time. */
  async lookup(fileId: string): Promise<CatalogEntry | undefined> {
    const cached = this.#cache.get(fileId);
    if (cached !== undefined) return cached;
    if (!FileIdSchema.safeParse(fileId).success) return undefined;
    const stored = await this.#store.get(CATALOG_PREFIX + fileId);
    if (!isEntry(stored)) return undefined;
    const entry: CatalogEntry = {
      fileId: stored.fileId,
      fileType: stored.fileType,
      size: stored.size,
      sha256: stored.sha256,
      releaseId: stored.releaseId,
      version: stored.version,
      publishedAt: stored.publishedAt,
    };
    this.#cache.set(fileId, entry);
    return entry;
  }

  /** The entry of `fileId` if {@link lookup} or {@link register} saw it in this process. */
  cached(fileId: string): CatalogEntry | undefined {
    return this.#cache.get(fileId);
  }
}
