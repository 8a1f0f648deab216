/**
 * The running counters of one extraction, checked against its {@link ArchiveLimits} on every
 * chunk: bytes written, entries, and bytes decompressed per compressed byte read. Every check
 * happens before the bytes it counts are written, so a limit is never overshot on disk.
 *
 * @module
 */
import { ArchiveError } from '../../archive/errors.js';
import { type ArchiveLimits, RATIO_GRACE_BYTES } from './limits.js';

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export class ExtractionBudget {
  readonly limits: ArchiveLimits;
  #entries = 0;
  #written = 0;
  #compressed = 0;
  #decompressed = 0;

  constructor(limits: ArchiveLimits) {
    this.limits = limits;
  }

  /** Bytes written to files so far. */
  get written(): number {
    return this.#written;
  }

  /** Counts one file or directory. */
  countEntry(name: string): void {
    this.#entries += 1;
    if (this.#entries > this.limits.maxEntries) {
      throw new ArchiveError('too-many-entries', `Archive has more than ${this.limits.maxEntries} entries`, {
        entry: name,
      });
    }
  }

  /**
   * Refuses an entry whose declared size alone breaks a limit (before reading its data), on top
   * of `before` bytes (by default, those written so far).
   */
  checkDeclaredSize(name: string, size: number, before = this.#written): void {
    if (size > this.limits.maxEntryBytes) {
      throw new ArchiveError(
        'too-large',
        `Entry declares ${size} bytes, more than maxEntryBytes (${this.limits.maxEntryBytes})`,
        { entry: name },
      );
    }
    if (before + size > this.limits.maxTotalBytes) {
      throw new ArchiveError(
        'too-large',
        `Archive would extract more than maxTotalBytes (${this.limits.maxTotalBytes}) bytes`,
        { entry: name },
      );
    }
  }

  /** Counts `bytes` about to be written to an entry that already holds `entrySoFar` bytes. */
  addWritten(name: string, entrySoFar: number, bytes: number): void {
    if (entrySoFar + bytes > this.limits.maxEntryBytes) {
      throw new ArchiveError('too-large', `Entry exceeds maxEntryBytes (${this.limits.maxEntryBytes})`, {
        entry: name,
      });
    }
    if (this.#written + bytes > this.limits.maxTotalBytes) {
      throw new ArchiveError(
        'too-large',
        `Archive extracts more than maxTotalBytes (${this.limits.maxTotalBytes}) bytes`,
        { entry: name },
      );
    }
    this.#written += bytes;
  }

  /** Counts compressed bytes handed to a decompressor. */
  addCompressed(bytes: number): void {
    this.#compressed += bytes;
  }

  /** Counts bytes a decompressor produced, and judges the ratio so far. */
  addDecompressed(bytes: number, name?: string): void {
    this.#decompressed += bytes;
    this.checkRatio(this.#decompressed, this.#compressed, name);
  }

  /** Judges a ratio (declared sizes, or the running counts). */
  checkRatio(decompressed: number, compressed: number, name?: string): void {
    if (decompressed <= RATIO_GRACE_BYTES) return;
    const limit = this.limits.maxCompressionRatio;
    if (decompressed > limit * Math.max(compressed, 1)) {
      throw new ArchiveError(
        'ratio',
        `Archive decompresses ${mib(decompressed)} from ${compressed} bytes, beyond maxCompressionRatio (${limit}:1)`,
        name === undefined ? {} : { entry: name },
      );
    }
  }
}
