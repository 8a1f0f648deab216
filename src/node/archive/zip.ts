/**
 * Extracts a zip from an open file. Everything the central directory says is checked before a
 * single byte is written (types, names, duplicates, declared sizes and ratio, and that each
 * local header agrees with its central entry and no two entries' data overlap, which is how the
 * densest zip bombs reuse one compressed kernel); then each entry is streamed through inflate,
 * with its real size and CRC-32 checked as it goes.
 *
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import { ArchiveError } from '../../archive/errors.js';
import { throwIfAborted } from '../../core/abort.js';
import type { ExtractionBudget } from './budget.js';
import type { Pull } from './byte-reader.js';
import { claimEntry, type EntryKind, EntryRegistry } from './entry-registry.js';
import { DEFAULT_DIRECTORY_MODE, DEFAULT_FILE_MODE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './modes.js';
import { filePull } from './source.js';
import type { StagingDirectory } from './staging.js';
import { findExtra, readZipDirectory, u16, u32, type ZipEntry } from './zip-directory.js';
import { throughZlib, ZLIB_OPTIONS } from './zlib-stream.js';

const LOCAL_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_BYTES = 30;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
/** Flag bits: 0 encrypted, 6 strong encryption, 13 encrypted central directory. */
const ENCRYPTION_FLAGS = 0x0001 | 0x0040 | 0x2000;
/** Flag bit 3: sizes and CRC follow the data, the local header holds zeros. */
const FLAG_DATA_DESCRIPTOR = 0x0008;
/** "Version made by" hosts whose external attributes carry a Unix mode: Unix, macOS. */
const UNIX_HOSTS = new Set([3, 19]);
/** MS-DOS directory attribute, set by Windows and Info-ZIP tools alike. */
const DOS_DIRECTORY = 0x10;

interface Plan {
  entry: ZipEntry;
  kind: EntryKind;
  mode: number;
  dataOffset: number;
}

/** A file, a directory, or a refusal, from the entry's Unix mode (if any) and name. */
function classify(entry: ZipEntry): { kind: EntryKind; mode: number } {
  const unix = UNIX_HOSTS.has(entry.versionMadeBy >>> 8) ? entry.externalAttributes >>> 16 : 0;
  const type = unix & S_IFMT;
  if (type === S_IFLNK) {
    throw new ArchiveError('link', 'Symbolic links are not extracted', { entry: entry.name });
  }
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
    throw new ArchiveError('special-file', 'Zip entry is neither a file nor a directory', {
      entry: entry.name,
    });
  }
  const directory =
    type === S_IFDIR ||
    (type === 0 && (/[/\\]$/.test(entry.name) || (entry.externalAttributes & DOS_DIRECTORY) !== 0));
  const permissions = unix & 0o7777;
  if (directory) return { kind: 'directory', mode: permissions || DEFAULT_DIRECTORY_MODE };
  return { kind: 'file', mode: permissions || DEFAULT_FILE_MODE };
}

function corrupt(detail: string, entry: string): ArchiveError {
  return new ArchiveError('corrupt', `Zip is malformed: ${detail}`, { entry });
}

async function readAt(
  handle: FileHandle,
  position: number,
  length: number,
  entry: string,
): Promise<Uint8Array> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) throw corrupt('truncated', entry);
  return buffer;
}

/** Checks the local header against the central entry; returns where the entry's data starts. */
async function checkLocalHeader(handle: FileHandle, entry: ZipEntry, limit: number): Promise<number> {
  const { name } = entry;
  if (entry.localHeaderOffset + LOCAL_HEADER_BYTES > limit) throw corrupt('local header out of place', name);
  const header = await readAt(handle, entry.localHeaderOffset, LOCAL_HEADER_BYTES, name);
  if (u32(header, 0) !== LOCAL_SIGNATURE) throw corrupt('local header missing', name);
  const flags = u16(header, 6);
  const nameLength = u16(header, 26);
  const extraLength = u16(header, 28);
  const localName = await readAt(handle, entry.localHeaderOffset + LOCAL_HEADER_BYTES, nameLength, name);
  // Two names, or two methods, for one entry would let two tools extract different things.
  if (Buffer.compare(localName, entry.rawName) !== 0) throw corrupt('local and central names differ', name);
  if (u16(header, 8) !== entry.method || (flags & ENCRYPTION_FLAGS) !== (entry.flags & ENCRYPTION_FLAGS)) {
    throw corrupt('local and central headers differ', name);
  }
  if (!(flags & FLAG_DATA_DESCRIPTOR)) {
    let compressed = u32(header, 18);
    let uncompressed = u32(header, 22);
    if (compressed === 0xffffffff || uncompressed === 0xffffffff) {
      const extra = await readAt(
        handle,
        entry.localHeaderOffset + LOCAL_HEADER_BYTES + nameLength,
        extraLength,
        name,
      );
      const zip64 = findExtra(extra, 0x0001, name);
      if (zip64 === undefined || zip64.length < 16) throw corrupt('zip64 extra field missing', name);
      uncompressed = u32(zip64, 0) + u32(zip64, 4) * 2 ** 32;
      compressed = u32(zip64, 8) + u32(zip64, 12) * 2 ** 32;
    }
    if (
      u32(header, 14) !== entry.crc32 ||
      compressed !== entry.compressedSize ||
      uncompressed !== entry.uncompressedSize
    ) {
      throw corrupt('local and central sizes or CRC differ', name);
    }
  }
  return entry.localHeaderOffset + LOCAL_HEADER_BYTES + nameLength + extraLength;
}

/** Validates every entry, in full, before anything is written. */
async function plan(
  handle: FileHandle,
  entries: readonly ZipEntry[],
  directoryOffset: number,
  budget: ExtractionBudget,
  signal: AbortSignal | undefined,
): Promise<Plan[]> {
  const registry = new EntryRegistry();
  const plans: Plan[] = [];
  let declared = 0;
  let compressed = 0;
  for (const entry of entries) {
    throwIfAborted(signal);
    const { kind, mode } = classify(entry);
    if (entry.flags & ENCRYPTION_FLAGS) {
      throw new ArchiveError('unsupported', 'Encrypted zip entries are not supported', { entry: entry.name });
    }
    claimEntry(registry, entry.name, kind);
    if (kind === 'file') {
      if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) {
        throw new ArchiveError('unsupported', `Zip compression method ${entry.method} is not supported`, {
          entry: entry.name,
        });
      }
      if (entry.method === METHOD_STORED && entry.compressedSize !== entry.uncompressedSize) {
        throw corrupt('stored entry with two sizes', entry.name);
      }
      budget.checkDeclaredSize(entry.name, entry.uncompressedSize, declared);
      declared += entry.uncompressedSize;
      compressed += entry.compressedSize;
    }
    const dataOffset = await checkLocalHeader(handle, entry, directoryOffset);
    plans.push({ entry, kind, mode, dataOffset });
  }
  budget.checkRatio(declared, compressed);

  // No two entries may share bytes: overlapping entries are how a 42 kB zip claims petabytes.
  const byOffset = [...plans].sort((a, b) => a.entry.localHeaderOffset - b.entry.localHeaderOffset);
  for (let index = 0; index < byOffset.length; index++) {
    const current = byOffset[index]!;
    const next = byOffset[index + 1];
    const end = current.dataOffset + current.entry.compressedSize;
    if (end > (next?.entry.localHeaderOffset ?? directoryOffset)) {
      throw corrupt('entries overlap (or run into the central directory)', current.entry.name);
    }
  }
  return plans;
}

async function* chunksOf(pull: Pull): AsyncGenerator<Uint8Array> {
  for (;;) {
    const chunk = await pull();
    if (chunk === null) return;
    yield chunk;
  }
}

async function extractFile(
  handle: FileHandle,
  staging: StagingDirectory,
  budget: ExtractionBudget,
  { entry, mode, dataOffset }: Plan,
  signal: AbortSignal | undefined,
): Promise<void> {
  const { name } = entry;
  const sink = await staging.file(name, mode, entry.uncompressedSize);
  const raw = chunksOf(filePull(handle, dataOffset, dataOffset + entry.compressedSize, signal));
  const onInput = (chunk: Uint8Array) => budget.addCompressed(chunk.length);
  const onOutput = (chunk: Uint8Array) => budget.addDecompressed(chunk.length, name);
  const chunks =
    entry.method === METHOD_DEFLATE
      ? throughZlib(raw, createInflateRaw(ZLIB_OPTIONS), onInput, onOutput)
      : (async function* stored() {
          for await (const chunk of raw) {
            onInput(chunk);
            onOutput(chunk);
            yield chunk;
          }
        })();
  let produced = 0;
  let crc = 0;
  for await (const chunk of chunks) {
    produced += chunk.length;
    // Every limit was checked against the declared size, so real bytes beyond it are a lie
    // caught here, before they are written.
    if (produced > entry.uncompressedSize) throw corrupt('entry is larger than its declared size', name);
    crc = crc32(chunk, crc);
    await sink.write(chunk);
  }
  if (produced !== entry.uncompressedSize) throw corrupt('entry is smaller than its declared size', name);
  if (crc >>> 0 !== entry.crc32) throw corrupt('CRC-32 mismatch', name);
  await sink.close();
}

/**
 * Extracts the zip open in `handle` (of `fileSize` bytes) into `staging`.
 *
 * @throws {ArchiveError} for anything unsafe or malformed; nothing is cleaned up here.
 */
export async function extractZip(
  handle: FileHandle,
  fileSize: number,
  staging: StagingDirectory,
  budget: ExtractionBudget,
  signal: AbortSignal | undefined,
): Promise<void> {
  const directory = await readZipDirectory(handle, fileSize, budget.limits.maxEntries, signal);
  const plans = await plan(handle, directory.entries, directory.centralDirectoryOffset, budget, signal);
  for (const item of plans) {
    throwIfAborted(signal);
    if (item.kind === 'directory') await staging.directory(item.entry.name, item.mode);
    else await extractFile(handle, staging, budget, item, signal);
  }
}
