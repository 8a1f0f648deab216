/**
 * Reads a zip's central directory: the authoritative list of entries at the end of the file,
 * with the sizes, CRCs and Unix modes that local headers may lack (entries written with a data
 * descriptor carry zero sizes locally, and the executable bit of `update.sh` exists only here).
 * Supports zip64; refuses split archives. Read in chunks from the file, never whole.
 *
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { ArchiveError } from '../../archive/errors.js';
import { ByteReader } from './byte-reader.js';
import { decodeCp437 } from './cp437.js';
import { filePull } from './source.js';

export interface ZipEntry {
  /** Decoded name (UTF-8 when flagged or valid, else code page 437). */
  name: string;
  /** The name's bytes, compared with the local header's. */
  rawName: Uint8Array;
  versionMadeBy: number;
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  externalAttributes: number;
  localHeaderOffset: number;
}

export interface ZipDirectory {
  entries: ZipEntry[];
  /** Where the central directory starts: no entry data may reach past it. */
  centralDirectoryOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const EOCD_BYTES = 22;
const MAX_COMMENT_BYTES = 0xffff;
const CENTRAL_HEADER_BYTES = 46;
/** Linux PATH_MAX; a longer name could never be created, and names are held in memory. */
const MAX_NAME_BYTES = 4096;
/** Flag bit 11: the name is UTF-8. */
const FLAG_UTF8 = 0x800;
const EXTRA_ZIP64 = 0x0001;
const EXTRA_UNICODE_PATH = 0x7075;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function u16(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8);
}

export function u32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>>
    0
  );
}

function u64(bytes: Uint8Array, offset: number): number {
  const value = u32(bytes, offset) + u32(bytes, offset + 4) * 2 ** 32;
  if (!Number.isSafeInteger(value)) throw new ArchiveError('corrupt', 'Zip64 value is out of range');
  return value;
}

function corrupt(detail: string, entry?: string): ArchiveError {
  return new ArchiveError('corrupt', `Zip is malformed: ${detail}`, entry === undefined ? {} : { entry });
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) throw corrupt('truncated');
  return buffer;
}

/** The extra field with `id`, if any. */
export function findExtra(extra: Uint8Array, id: number, entry: string): Uint8Array | undefined {
  let offset = 0;
  while (offset + 4 <= extra.length) {
    const size = u16(extra, offset + 2);
    if (offset + 4 + size > extra.length) throw corrupt('extra field overruns its entry', entry);
    if (u16(extra, offset) === id) return extra.subarray(offset + 4, offset + 4 + size);
    offset += 4 + size;
  }
  return undefined;
}

/** Decodes a name: UTF-8 if flagged (strictly) or if it happens to be valid, else code page 437. */
function decodeName(raw: Uint8Array, flags: number): string {
  if (flags & FLAG_UTF8) {
    try {
      return utf8.decode(raw);
    } catch (error) {
      throw new ArchiveError('invalid-name', 'Zip entry name is flagged UTF-8 but is not', { cause: error });
    }
  }
  try {
    return utf8.decode(raw);
  } catch {
    return decodeCp437(raw);
  }
}

interface EndRecord {
  entries: number;
  size: number;
  offset: number;
  /** Where the record(s) after the central directory begin. */
  end: number;
}

async function readEndRecord(handle: FileHandle, fileSize: number): Promise<EndRecord> {
  const tailLength = Math.min(fileSize, EOCD_BYTES + MAX_COMMENT_BYTES);
  const tailStart = fileSize - tailLength;
  const tail = await readAt(handle, tailStart, tailLength);
  let at = -1;
  // The record is followed only by its comment, so its comment length pins down where it is:
  // a signature inside the comment (or inside entry data) cannot be mistaken for it.
  for (let index = tail.length - EOCD_BYTES; index >= 0; index--) {
    if (u32(tail, index) === EOCD_SIGNATURE && u16(tail, index + 20) === tail.length - index - EOCD_BYTES) {
      at = index;
      break;
    }
  }
  if (at === -1) throw corrupt('no end of central directory record');
  const eocd = tail.subarray(at, at + EOCD_BYTES);
  const eocdOffset = tailStart + at;
  const record: EndRecord & { disk: number; directoryDisk: number; diskEntries: number } = {
    disk: u16(eocd, 4),
    directoryDisk: u16(eocd, 6),
    diskEntries: u16(eocd, 8),
    entries: u16(eocd, 10),
    size: u32(eocd, 12),
    offset: u32(eocd, 16),
    end: eocdOffset,
  };

  const locator = eocdOffset >= 20 ? await readAt(handle, eocdOffset - 20, 20) : undefined;
  if (locator !== undefined && u32(locator, 0) === ZIP64_LOCATOR_SIGNATURE) {
    const zip64Offset = u64(locator, 8);
    if (u32(locator, 4) !== 0 || u32(locator, 16) > 1)
      throw new ArchiveError('unsupported', 'Split zip archives are not supported');
    if (zip64Offset + 56 > eocdOffset - 20) throw corrupt('zip64 end record out of place');
    const zip64 = await readAt(handle, zip64Offset, 56);
    if (u32(zip64, 0) !== ZIP64_EOCD_SIGNATURE) throw corrupt('zip64 end record missing');
    record.disk = u32(zip64, 16);
    record.directoryDisk = u32(zip64, 20);
    record.diskEntries = u64(zip64, 24);
    record.entries = u64(zip64, 32);
    record.size = u64(zip64, 40);
    record.offset = u64(zip64, 48);
    record.end = zip64Offset;
  } else if (record.entries === 0xffff || record.size === 0xffffffff || record.offset === 0xffffffff) {
    throw corrupt('zip64 values without a zip64 end record');
  }
  if (record.disk !== 0 || record.directoryDisk !== 0 || record.diskEntries !== record.entries) {
    throw new ArchiveError('unsupported', 'Split zip archives are not supported');
  }
  if (record.offset + record.size > record.end) throw corrupt('central directory out of place');
  if (record.size < record.entries * CENTRAL_HEADER_BYTES) throw corrupt('central directory too small');
  return record;
}

/**
 * Reads the central directory of the zip open in `handle`.
 *
 * @throws {ArchiveError} `too-many-entries` before reading more than `maxEntries` headers;
 * `corrupt`, `unsupported` or `invalid-name` for a malformed or unsupported directory.
 */
export async function readZipDirectory(
  handle: FileHandle,
  fileSize: number,
  maxEntries: number,
  signal: AbortSignal | undefined,
): Promise<ZipDirectory> {
  const end = await readEndRecord(handle, fileSize);
  if (end.entries > maxEntries) {
    throw new ArchiveError(
      'too-many-entries',
      `Zip lists ${end.entries} entries, more than maxEntries (${maxEntries})`,
    );
  }
  const reader = new ByteReader(filePull(handle, end.offset, end.offset + end.size, signal));
  const entries: ZipEntry[] = [];
  for (let index = 0; index < end.entries; index++) {
    const header = await reader.readExact(CENTRAL_HEADER_BYTES);
    if (header === null || u32(header, 0) !== CENTRAL_SIGNATURE)
      throw corrupt('central directory header missing');
    const nameLength = u16(header, 28);
    if (nameLength > MAX_NAME_BYTES) {
      throw new ArchiveError('invalid-name', `Zip entry name is longer than ${MAX_NAME_BYTES} bytes`);
    }
    const flags = u16(header, 8);
    const rawName = (await reader.readExact(nameLength)) ?? new Uint8Array(0);
    if (rawName.length !== nameLength) throw corrupt('central directory truncated');
    const name = decodeName(rawName, flags);
    const extra = (await reader.readExact(u16(header, 30), name)) ?? new Uint8Array(0);
    await reader.skip(u16(header, 32), name);

    const entry: ZipEntry = {
      name,
      rawName,
      versionMadeBy: u16(header, 4),
      flags,
      method: u16(header, 10),
      crc32: u32(header, 16),
      compressedSize: u32(header, 20),
      uncompressedSize: u32(header, 24),
      externalAttributes: u32(header, 38),
      localHeaderOffset: u32(header, 42),
    };
    const diskStart = u16(header, 34);
    // Zip64: each saturated field is in the zip64 extra field, in this order.
    const zip64 = findExtra(extra, EXTRA_ZIP64, name);
    let cursor = 0;
    const wide = (): number => {
      if (zip64 === undefined || cursor + 8 > zip64.length) throw corrupt('zip64 extra field missing', name);
      const value = u64(zip64, cursor);
      cursor += 8;
      return value;
    };
    if (entry.uncompressedSize === 0xffffffff) entry.uncompressedSize = wide();
    if (entry.compressedSize === 0xffffffff) entry.compressedSize = wide();
    if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = wide();
    if (diskStart !== 0 && !(diskStart === 0xffff && zip64 !== undefined)) {
      throw new ArchiveError('unsupported', 'Split zip archives are not supported', { entry: name });
    }
    // Info-ZIP's Unicode path field offers a second name. Tools that honour it and tools that
    // ignore it would install different paths, so a disagreement is refused.
    const unicode = findExtra(extra, EXTRA_UNICODE_PATH, name);
    if (unicode !== undefined && unicode.length >= 5 && u32(unicode, 1) === crc32(rawName)) {
      let other: string | undefined;
      try {
        other = utf8.decode(unicode.subarray(5));
      } catch {
        other = undefined;
      }
      if (other !== name) {
        throw new ArchiveError('invalid-name', 'Zip entry has two different names (Unicode path field)', {
          entry: name,
        });
      }
    }
    entries.push(entry);
  }
  if ((await reader.read(1)) !== null) throw corrupt('central directory is longer than its entries');
  return { entries, centralDirectoryOffset: end.offset };
}
