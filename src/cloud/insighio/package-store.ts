/**
 * Where published packages wait for the devices to download them, by file id. The publisher puts
 * each package here before it sends the order (so a device never hears of a file it cannot get);
 * the package server (`otakit/node`) reads from the same store.
 *
 * @module
 */

/** Packages by file id. Implement it over object storage or a database to share it between services. */
export interface PackageStore {
  /** Stores the package bytes under `fileId` (replacing what was there). Durable when it resolves. */
  put(fileId: string, bytes: Uint8Array): Promise<void>;
  /** The bytes stored under `fileId`, or `undefined`. */
  get(fileId: string): Promise<Uint8Array | undefined>;
  /** Removes a package no order names any more. */
  delete(fileId: string): Promise<void>;
}

/** A {@link PackageStore} in memory: for tests and single-process services. Copies on the way in. */
export class MemoryPackageStore implements PackageStore {
  readonly #packages = new Map<string, Uint8Array>();

  async put(fileId: string, bytes: Uint8Array): Promise<void> {
    this.#packages.set(fileId, bytes.slice());
  }

  async get(fileId: string): Promise<Uint8Array | undefined> {
    return this.#packages.get(fileId);
  }

  async delete(fileId: string): Promise<void> {
    this.#packages.delete(fileId);
  }

  /** The file ids held, for inspection in tests and tools. */
  fileIds(): string[] {
    return [...this.#packages.keys()];
  }
}
