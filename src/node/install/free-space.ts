/**
 * A free-space check before a download (or an extraction) whose size is known, so a device fails
 * early with a clear message instead of filling its disk half way, which on a gateway also breaks
 * the state store, the logs and whatever else runs there.
 *
 * @module
 */
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { throwIfAborted } from '../../core/abort.js';
import { OtaError, type OtaErrorOptions, type SerializedOtaError } from '../../core/errors.js';
import { errorCode } from './durable-fs.js';

export interface FreeSpaceOptions {
  /**
   * Bytes that must stay free after the write: room for the state store, logs and the rest of the
   * system. `0` allows filling the disk to the last byte.
   * @default 1_048_576 (1 MiB)
   */
  reserveBytes?: number;
  /**
   * The code of the error when space is short: `DOWNLOAD` for a check before a download (the
   * machine ends in `download_failed`), `INSTALL` for one before an extraction or a copy.
   * @default 'DOWNLOAD'
   */
  code?: 'DOWNLOAD' | 'INSTALL';
  /** @default undefined */
  signal?: AbortSignal;
}

export interface FreeSpace {
  /** The directory measured: the one asked about, or its nearest existing ancestor. */
  directory: string;
  /** Bytes an unprivileged process may still write there (`f_bavail × f_bsize`). */
  availableBytes: number;
  neededBytes: number;
  reserveBytes: number;
}

/** There is not enough free space for a write of known size. Not retryable as-is. */
export class InsufficientSpaceError extends OtaError {
  override name = 'InsufficientSpaceError';
  readonly directory: string;
  readonly neededBytes: number;
  readonly availableBytes: number;
  readonly reserveBytes: number;

  constructor(space: FreeSpace, code: 'DOWNLOAD' | 'INSTALL', options: OtaErrorOptions = {}) {
    const reserve = space.reserveBytes > 0 ? ` plus ${formatBytes(space.reserveBytes)} reserve` : '';
    super(
      code,
      `Not enough free space in ${space.directory}: ${formatBytes(space.neededBytes)} needed${reserve}, ${formatBytes(space.availableBytes)} available`,
      { ...options, retryable: false },
    );
    this.directory = space.directory;
    this.neededBytes = space.neededBytes;
    this.availableBytes = space.availableBytes;
    this.reserveBytes = space.reserveBytes;
  }

  override toJSON(): SerializedOtaError & {
    neededBytes: number;
    availableBytes: number;
    reserveBytes: number;
  } {
    return {
      ...super.toJSON(),
      neededBytes: this.neededBytes,
      availableBytes: this.availableBytes,
      reserveBytes: this.reserveBytes,
    };
  }
}

/** `123456789` → `123456789 bytes (117.7 MiB)`: exact for machines, readable for people. */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let unit = '';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return unit === '' ? `${bytes} bytes` : `${bytes} bytes (${value.toFixed(1)} ${unit})`;
}

/** Bytes available to this process in `directory` (or its nearest existing ancestor). */
export async function measureFreeSpace(
  directory: string,
): Promise<{ directory: string; availableBytes: number }> {
  // The download directory is often created by the download itself: measure where it will be.
  let path = resolve(directory);
  for (;;) {
    try {
      const stats = await statfs(path);
      return { directory: path, availableBytes: stats.bavail * stats.bsize };
    } catch (error) {
      const parent = dirname(path);
      if (errorCode(error) !== 'ENOENT' || parent === path) throw error;
      path = parent;
    }
  }
}

/**
 * Resolves with the measured space when `bytesNeeded` plus the reserve fit in `directory`;
 * otherwise rejects with an {@link InsufficientSpaceError} naming needed and available bytes.
 *
 * @example
 * ```ts
 * download: async ({ manifest, signal }) => {
 *   await ensureFreeSpace('/var/lib/agent/downloads', manifest.artifacts[0]!.size, { signal })
 *   // …stream the download
 * }
 * ```
 */
export async function ensureFreeSpace(
  directory: string,
  bytesNeeded: number,
  options: FreeSpaceOptions = {},
): Promise<FreeSpace> {
  throwIfAborted(options.signal);
  const reserveBytes = options.reserveBytes ?? 1_048_576;
  for (const [name, value] of [
    ['bytesNeeded', bytesNeeded],
    ['reserveBytes', reserveBytes],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new OtaError('CONFIG', `ensureFreeSpace: ${name} must be a non-negative integer, got ${value}`);
    }
  }
  const code = options.code ?? 'DOWNLOAD';
  let measured: Awaited<ReturnType<typeof measureFreeSpace>>;
  try {
    measured = await measureFreeSpace(directory);
  } catch (cause) {
    throw new OtaError(code, `Cannot measure the free space in ${directory}: ${(cause as Error).message}`, {
      cause,
      retryable: true,
    });
  }
  const space: FreeSpace = { ...measured, neededBytes: bytesNeeded, reserveBytes };
  if (bytesNeeded + reserveBytes > space.availableBytes) throw new InsufficientSpaceError(space, code);
  return space;
}
