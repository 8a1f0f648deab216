/**
 * insigh.io OTA packages (microfreezer `--ota-package`): a tar, or microfreezer's pseudo-gzip
 * (8 bytes `1f 8b 08 00 00 00 00 00`, a zlib stream, a big-endian CRC-32 of the zlib bytes),
 * which is not a gzip file. Unpacked with web-standard `DecompressionStream`, and read with a
 * hardened tar reader (docs/protocols/insighIo.md): no absolute paths, no `..`, no links or devices, pax
 * headers skipped but their `path` honoured, sizes capped. Writing the entries to disk is the
 * installer's job (`otakit/node`); this module only decides what may be written.
 *
 * There is no strictCompat here: the reference's extraction (writing pax headers as files and
 * links as empty files, following `../`) is unsafe, and nothing on the wire depends on it.
 *
 * Exported from `otakit/node` as `insighIoPackage` (the device agent unpacks packages), so the
 * browser-safe root does not carry a tar reader.
 *
 * @module
 */

import { normaliseEntryPath } from '../../archive/entry-path.js';
import { ArchiveError } from '../../archive/errors.js';
import { parsePaxRecords, parsePaxSize } from '../../archive/pax.js';
import {
  BLOCK_SIZE,
  checksumMatches,
  isZeroBlock,
  parseLongName,
  parseTarHeader,
} from '../../archive/tar-header.js';
import { InstallError, ManifestError } from '../../core/errors.js';
import { LIMITS } from './limits.js';

/** What a package's bytes are. */
export type PackageFormat =
  /** A plain tar (`.tar`, the microfreezer default). */
  | 'tar'
  /** microfreezer's `.tar.gz`: 8-byte pseudo header, zlib stream, CRC-32 trailer (vector I11). */
  | 'insighio-zlib'
  /** A real gzip (`tar czf`), which the reference firmware cannot apply (vector I12). */
  | 'gzip'
  | 'unknown';

const PSEUDO_GZIP_HEADER = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00];

/** Refuses anything but bytes with a typed error (callers in plain JavaScript pass anything). */
function assertBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new ManifestError(what, [{ path: '', expected: 'bytes (a Uint8Array)' }]);
  }
}

/** Tells the package formats apart by their first bytes (never by the order's file type). */
export function detectPackageFormat(bytes: Uint8Array): PackageFormat {
  assertBytes(bytes, 'package');
  if (bytes.length >= 14 && PSEUDO_GZIP_HEADER.every((byte, index) => bytes[index] === byte)) {
    // A zlib header (RFC 1950) right after the 8 bytes: deflate method, and the FCHECK rule. In a
    // real gzip these two bytes are XFL (0, 2 or 4) and OS, which never satisfy both.
    const cmf = bytes[8]!;
    const flg = bytes[9]!;
    if ((cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0) return 'insighio-zlib';
  }
  if (bytes.length >= 18 && bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 0x08) return 'gzip';
  if (bytes.length >= BLOCK_SIZE && checksumMatches(bytes.subarray(0, BLOCK_SIZE))) return 'tar';
  return 'unknown';
}

/** Options of {@link unpackPackage} and {@link readPackage}. */
export interface PackageOptions {
  /**
   * Largest package, largest decompressed tar, and largest total size of its entries.
   * @default LIMITS.maxPackageBytes (64 MiB)
   */
  maxBytes?: number;
  /** @default LIMITS.maxTarEntries */
  maxEntries?: number;
}

/**
 * The tar inside a package: as is for a tar, inflated for microfreezer's format (after checking
 * its CRC-32 trailer) and for a real gzip.
 * @throws InstallError (`INSTALL`, i.e. the firmware's `can not apply`) for an unknown format,
 * a CRC mismatch, a corrupt stream, or output beyond `maxBytes` (checked while inflating, so a
 * decompression bomb stops early).
 */
export async function unpackPackage(bytes: Uint8Array, options: PackageOptions = {}): Promise<Uint8Array> {
  assertBytes(bytes, 'package');
  const maxBytes = options.maxBytes ?? LIMITS.maxPackageBytes;
  if (bytes.length > maxBytes) throw new InstallError(`Package larger than ${maxBytes} bytes`);
  switch (detectPackageFormat(bytes)) {
    case 'tar':
      return bytes;
    case 'insighio-zlib': {
      const zlib = bytes.subarray(8, bytes.length - 4);
      const view = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4);
      if (view.getUint32(0, false) !== crc32(zlib)) {
        throw new InstallError('Package CRC-32 trailer does not match its zlib stream');
      }
      return inflate(zlib, 'deflate', maxBytes);
    }
    case 'gzip':
      return inflate(bytes, 'gzip', maxBytes);
    default:
      throw new InstallError('Package is neither a tar, a microfreezer .tar.gz nor a gzip');
  }
}

/** One entry of a package that may be written, relative to the device root. */
export interface TarEntry {
  /** Normalised relative path (`apps/demo_console/x.py`): no leading `/` or `./`, no `..`. */
  path: string;
  type: 'file' | 'directory';
  /** Bytes of a file (0 for a directory). */
  size: number;
  /** The file's bytes, a view into the tar. Empty for a directory. */
  data: Uint8Array;
  /** Permission bits from the header. */
  mode: number;
}

/**
 * Unpacks and reads a package.
 * @throws InstallError for anything {@link unpackPackage} or {@link readTar} refuses.
 *
 * @example
 * ```ts
 * for (const entry of await insighIo.readPackage(bytes)) {
 *   if (entry.type === 'directory') await mkdir(join(root, entry.path), { recursive: true })
 *   else await writeFile(join(root, entry.path), entry.data)
 * }
 * ```
 */
export async function readPackage(bytes: Uint8Array, options: PackageOptions = {}): Promise<TarEntry[]> {
  return readTar(await unpackPackage(bytes, options), options);
}

/**
 * Reads a ustar/pax/GNU tar and returns the entries to write. Refuses symlinks, hard links,
 * devices and FIFOs, bad header checksums and truncation, and every name the shared entry-name
 * policy refuses (`src/archive/entry-path.ts`: absolute paths, `..` components, backslashes,
 * NUL bytes, over-long names), exactly as otakit/node's extractor does; skips pax (`x`, `g`) and
 * GNU long-name headers while honouring the `path` they set; skips the archive's own root (`./`).
 * @throws InstallError naming the entry and the reason (an `ArchiveError`, with its `reason`,
 *   for a refused name).
 */
export function readTar(tar: Uint8Array, options: PackageOptions = {}): TarEntry[] {
  assertBytes(tar, 'tar');
  const maxBytes = options.maxBytes ?? LIMITS.maxPackageBytes;
  const maxEntries = options.maxEntries ?? LIMITS.maxTarEntries;
  const entries: TarEntry[] = [];
  let offset = 0;
  let headers = 0;
  let total = 0;
  let pendingPath: string | undefined;
  let pendingSize: number | undefined;
  let ended = false;

  while (offset + BLOCK_SIZE <= tar.length) {
    const block = tar.subarray(offset, offset + BLOCK_SIZE);
    if (isZeroBlock(block)) {
      ended = true;
      break;
    }
    if (++headers > maxEntries) throw new InstallError(`Package has more than ${maxEntries} tar entries`);
    // The same header and pax parsers as otakit/node's extractor: one reading of tar, not two.
    const header = parseTarHeader(block);
    const size = pendingSize ?? header.size;
    pendingSize = undefined;
    const start = offset + BLOCK_SIZE;
    const end = start + size;
    if (end > tar.length) throw new InstallError(`Tar entry at byte ${offset} is truncated`);
    const data = tar.subarray(start, end);
    offset = start + Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;

    // Extension headers describe the next entry; they are never written out.
    const { type } = header;
    if (type === 'x') {
      const pax = parsePaxRecords(data);
      pendingPath = pax.get('path') ?? pendingPath;
      const paxSize = pax.get('size');
      if (paxSize !== undefined) pendingSize = parsePaxSize(paxSize);
      continue;
    }
    if (type === 'g') {
      parsePaxRecords(data); // global defaults name no entry; parsed only to refuse a malformed one
      continue;
    }
    if (type === 'K') continue;
    if (type === 'L') {
      pendingPath = parseLongName(data);
      continue;
    }

    const rawPath = pendingPath ?? header.name;
    pendingPath = undefined;
    const shown = JSON.stringify(rawPath.slice(0, 120));
    // Refused with the same reasons as otakit/node's extractor gives.
    if (type === '1' || type === '2') {
      throw new ArchiveError('link', `Tar entry ${shown} is a link; links are refused`);
    }
    if (type === '3' || type === '4' || type === '6') {
      throw new ArchiveError('special-file', `Tar entry ${shown} is a device or FIFO; refused`);
    }
    let kind: TarEntry['type'];
    if (type === '5') kind = 'directory';
    else if (type === '0' || type === '\0' || type === '7')
      kind = rawPath.endsWith('/') ? 'directory' : 'file';
    else throw new InstallError(`Tar entry ${shown} has unsupported type ${JSON.stringify(type)}`);

    // The same entry-name policy as otakit/node's extractor: one answer for a hostile name.
    const { path } = normaliseEntryPath(rawPath);
    if (path === '') {
      if (kind === 'directory') continue; // the archive root itself (`./`)
      throw new ArchiveError('invalid-name', 'A file is named like the archive root; refused', {
        entry: rawPath,
      });
    }
    total += size;
    if (total > maxBytes) throw new InstallError(`Package unpacks to more than ${maxBytes} bytes`);
    entries.push({
      path,
      type: kind,
      size: kind === 'file' ? size : 0,
      data: kind === 'file' ? data : new Uint8Array(0),
      mode: header.mode,
    });
  }
  if (!ended && offset !== tar.length) throw new InstallError('Tar ends in the middle of a header');
  if (pendingPath !== undefined || pendingSize !== undefined) {
    throw new InstallError('Tar ends with an extension header and no entry');
  }
  return entries;
}

async function inflate(data: Uint8Array, format: 'deflate' | 'gzip', maxBytes: number): Promise<Uint8Array> {
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(data);
      controller.close();
    },
  });
  const reader = input
    .pipeThrough(new DecompressionStream(format) as ReadableWritablePair<Uint8Array, Uint8Array>)
    .getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new InstallError(`Package inflates to more than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof InstallError) throw error;
    throw new InstallError(`Package ${format === 'gzip' ? 'gzip' : 'zlib'} stream is corrupt`, {
      cause: error,
    });
  }
  const out = new Uint8Array(total);
  let position = 0;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as zlib's `crc32`). */
export function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
