/**
 * Recognises an archive's format from its first bytes, so callers need not trust a file name
 * or a `Content-Type`.
 *
 * @module
 */
import { BLOCK_SIZE, checksumMatches, isZeroBlock } from '../../archive/tar-header.js';

/** The archive formats `extractArchive` reads. `tar.gz` includes insigh.io's zlib variant. */
export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

/** How many leading bytes {@link sniffArchiveFormat} wants (one tar header block). */
export const SNIFF_BYTES = BLOCK_SIZE;

/**
 * The format `head` (the first {@link SNIFF_BYTES} bytes, or all of a shorter input) starts,
 * or `undefined`: gzip magic `1f 8b`, zip `PK\3\4` (or `PK\5\6`, an empty zip), or a tar header
 * whose checksum holds (tar has no reliable magic: v7 archives carry none).
 */
export function sniffArchiveFormat(head: Uint8Array): ArchiveFormat | undefined {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))
  ) {
    return 'zip';
  }
  if (head.length >= BLOCK_SIZE) {
    const block = head.subarray(0, BLOCK_SIZE);
    if (isZeroBlock(block) || checksumMatches(block)) return 'tar';
  }
  return undefined;
}
