/**
 * Extracts a tar stream (already decompressed) into a staging directory, entry by entry, never
 * holding more than one chunk of an entry in memory. Understands ustar, pax extended headers
 * (`path`, `linkpath`, `size`; global headers are skipped, see docs/install.md#archives) and GNU long
 * names (`L`, `K`). Only regular files and directories are extracted; every other type refuses
 * the whole archive.
 *
 * @module
 */

import { ArchiveError } from '../../archive/errors.js';
import { parsePaxRecords, parsePaxSize } from '../../archive/pax.js';
import { BLOCK_SIZE, isZeroBlock, parseLongName, parseTarHeader } from '../../archive/tar-header.js';
import { throwIfAborted } from '../../core/abort.js';
import type { ByteReader } from './byte-reader.js';
import { READ_CHUNK_BYTES } from './source.js';
import type { StagingDirectory } from './staging.js';

/** Pax and long-name headers are read into memory; no real one comes near this. */
const MAX_METADATA_BYTES = 1024 * 1024;
/** Extended headers in a row before an entry; more is a loop, not an archive. */
const MAX_METADATA_HEADERS = 8;

function padding(size: number): number {
  return (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
}

/** Pending overrides for the next entry. */
interface Overrides {
  pax: Map<string, string> | undefined;
  longName: string | undefined;
  longLink: string | undefined;
  count: number;
}

async function readMetadata(reader: ByteReader, size: number, name: string): Promise<Uint8Array> {
  if (size > MAX_METADATA_BYTES) {
    throw new ArchiveError('too-large', `Tar extended header is larger than ${MAX_METADATA_BYTES} bytes`, {
      entry: name,
    });
  }
  const data = (await reader.readExact(size, name)) ?? new Uint8Array(0);
  if (data.length < size) throw new ArchiveError('corrupt', 'Archive is truncated', { entry: name });
  await reader.skip(padding(size), name);
  return data;
}

async function copyBody(
  reader: ByteReader,
  write: (chunk: Uint8Array) => Promise<void>,
  size: number,
  name: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  let left = size;
  while (left > 0) {
    throwIfAborted(signal);
    const chunk = await reader.read(Math.min(left, READ_CHUNK_BYTES));
    if (chunk === null) throw new ArchiveError('corrupt', 'Archive is truncated', { entry: name });
    await write(chunk);
    left -= chunk.length;
  }
}

/**
 * Reads tar entries from `reader` until the end-of-archive block, writing them into `staging`.
 *
 * @throws {ArchiveError} for anything unsafe or malformed; nothing is cleaned up here.
 */
export async function extractTar(
  reader: ByteReader,
  staging: StagingDirectory,
  signal: AbortSignal | undefined,
): Promise<void> {
  const pending: Overrides = { pax: undefined, longName: undefined, longLink: undefined, count: 0 };
  for (;;) {
    throwIfAborted(signal);
    const block = await reader.readExact(BLOCK_SIZE);
    // A tar ends with zero blocks; without one it was cut off at an entry boundary.
    if (block === null) throw new ArchiveError('corrupt', 'Archive is truncated (no end-of-archive block)');
    if (isZeroBlock(block)) {
      if (pending.count > 0)
        throw new ArchiveError('corrupt', 'Tar extended header is not followed by an entry');
      return;
    }
    const header = parseTarHeader(block);

    if (header.type === 'x' || header.type === 'g' || header.type === 'L' || header.type === 'K') {
      pending.count += 1;
      if (pending.count > MAX_METADATA_HEADERS) {
        throw new ArchiveError('corrupt', `More than ${MAX_METADATA_HEADERS} extended headers in a row`, {
          entry: header.name,
        });
      }
      const data = await readMetadata(reader, header.size, header.name);
      if (header.type === 'x') {
        pending.pax = new Map([...(pending.pax ?? []), ...parsePaxRecords(data)]);
      } else if (header.type === 'L') {
        pending.longName = parseLongName(data);
      } else if (header.type === 'K') {
        pending.longLink = parseLongName(data);
      } else {
        // Global pax headers set defaults (uname, mtime, ...) none of which we extract; their
        // `path` would name no entry in particular. Parsed only to refuse a malformed one.
        parsePaxRecords(data);
        pending.count -= 1;
      }
      continue;
    }

    const { pax } = pending;
    const name = pax?.get('path') ?? pending.longName ?? header.name;
    const linkName = pax?.get('linkpath') ?? pending.longLink ?? header.linkName;
    const paxSize = pax?.get('size');
    const size = paxSize === undefined ? header.size : parsePaxSize(paxSize);
    pending.pax = undefined;
    pending.longName = undefined;
    pending.longLink = undefined;
    pending.count = 0;
    if (pax !== undefined && [...pax.keys()].some((key) => key.startsWith('GNU.sparse.'))) {
      throw new ArchiveError('unsupported', 'Sparse tar entries are not supported', { entry: name });
    }

    switch (header.type) {
      case '0':
      case '\0':
      case '7': {
        // Pre-POSIX tars marked directories only by a trailing slash on an old-style entry.
        if (header.type === '\0' && name.endsWith('/')) {
          await staging.directory(name, header.mode);
          await reader.skip(size + padding(size), name);
          break;
        }
        const sink = await staging.file(name, header.mode, size);
        await copyBody(reader, sink.write, size, name, signal);
        await sink.close();
        await reader.skip(padding(size), name);
        break;
      }
      case '5':
        await staging.directory(name, header.mode);
        // A directory's data (GNU dumpdir lists) is not content: skipped, still bounded by the stream.
        await reader.skip(size + padding(size), name);
        break;
      case '1':
        throw new ArchiveError('link', `Hard links are not extracted (to ${JSON.stringify(linkName)})`, {
          entry: name,
        });
      case '2':
        throw new ArchiveError('link', `Symbolic links are not extracted (to ${JSON.stringify(linkName)})`, {
          entry: name,
        });
      case '3':
      case '4':
        throw new ArchiveError('special-file', 'Device files are not extracted', { entry: name });
      case '6':
        throw new ArchiveError('special-file', 'FIFOs are not extracted', { entry: name });
      case 'S':
        throw new ArchiveError('unsupported', 'Sparse tar entries are not supported', { entry: name });
      case 'M':
        throw new ArchiveError('unsupported', 'Multi-volume tar archives are not supported', { entry: name });
      default:
        throw new ArchiveError(
          'special-file',
          `Tar entry type ${JSON.stringify(header.type)} is neither a file nor a directory`,
          { entry: name },
        );
    }
  }
}
