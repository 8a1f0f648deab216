/**
 * `extractArchive`: unpacks a `.tar`, `.tar.gz` (including insigh.io packages) or `.zip` into a
 * staging directory, refusing anything that could write outside it or exhaust the device, and
 * leaving nothing behind when it refuses.
 *
 * @module
 */
import { type FileHandle, open } from 'node:fs/promises';
import { ArchiveError } from '../../archive/errors.js';
import { abortReason, throwIfAborted } from '../../core/abort.js';
import { isOtaError, OtaError } from '../../core/errors.js';
import { ExtractionBudget } from './budget.js';
import { ByteReader } from './byte-reader.js';
import { decompressGzip } from './gzip.js';
import { type ArchiveLimits, resolveArchiveLimits } from './limits.js';
import { type ArchiveFormat, SNIFF_BYTES, sniffArchiveFormat } from './sniff.js';
import { type ArchiveSource, filePull, openStream } from './source.js';
import { type ExtractedEntry, StagingDirectory } from './staging.js';
import { extractTar } from './tar.js';
import { extractZip } from './zip.js';

export interface ExtractArchiveOptions {
  /**
   * The archive's format. Given or not, the bytes decide what is accepted: a wrong format is a
   * `corrupt` error, never a misread.
   * @default sniffed from the first 512 bytes (gzip magic, zip magic, tar header checksum)
   */
  format?: ArchiveFormat;
  /**
   * Caps on what the archive may extract; fields not given keep their defaults.
   * @default DEFAULT_ARCHIVE_LIMITS
   */
  limits?: Partial<ArchiveLimits>;
  /**
   * Stops the extraction (even one waiting on a stalled stream); the destination is cleaned and
   * the signal's reason is thrown.
   * @default undefined
   */
  signal?: AbortSignal;
}

export interface ExtractArchiveResult {
  format: ArchiveFormat;
  /** The files and directories extracted, in archive order (implied parent directories are not listed). */
  entries: ExtractedEntry[];
  /** Bytes written to files. */
  totalBytes: number;
}

/**
 * A zip has its directory at the end, so a zip arriving as a stream is first spooled into the
 * destination. It cannot reasonably be larger than what it may extract plus its headers.
 */
const SPOOL_SLACK_BYTES = 16 * 1024 * 1024;

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Every failure leaves as an otakit error: the abort reason, an ArchiveError, or a passed-through OtaError. */
function asFailure(error: unknown, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return abortReason(signal);
  if (isOtaError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  // zlib reports damaged data as Z_DATA_ERROR, Z_BUF_ERROR ("unexpected end of file"), ...
  if (code?.startsWith('Z_'))
    return new ArchiveError('corrupt', `Compressed data is corrupt: ${message}`, { cause: error });
  if (code !== undefined && /^E[A-Z0-9]+$/.test(code)) {
    return new ArchiveError('io', `Extraction failed: ${message}`, { cause: error });
  }
  return new ArchiveError('corrupt', `Archive could not be read: ${message}`, { cause: error });
}

function chooseFormat(head: Uint8Array, given: ArchiveFormat | undefined): ArchiveFormat {
  if (given !== undefined) return given;
  if (head.length === 0) throw new ArchiveError('corrupt', 'Archive is empty');
  const format = sniffArchiveFormat(head);
  if (format === undefined) throw new ArchiveError('unsupported', 'Not a tar, tar.gz or zip archive');
  return format;
}

async function extractTarStream(
  reader: ByteReader,
  format: 'tar' | 'tar.gz',
  staging: StagingDirectory,
  budget: ExtractionBudget,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (format === 'tar') {
    // Whatever follows the end-of-archive blocks is not read: plain tar has no trailer to check.
    await extractTar(reader, staging, signal);
    return;
  }
  const decompressed = decompressGzip(reader, budget);
  try {
    const tar = new ByteReader(async () => {
      const next = await decompressed.next();
      return next.done ? null : next.value;
    });
    await extractTar(tar, staging, signal);
    // Read to the end: gzip's CRC-32 and length (and the insigh.io trailer) are checked only
    // there, and a damaged archive must not leave an extraction behind. Padding counts toward
    // the ratio, so a gigabyte of zeros after the end block is refused like any bomb.
    while ((await tar.read(Number.POSITIVE_INFINITY)) !== null) throwIfAborted(signal);
  } finally {
    await decompressed.return(undefined);
  }
}

async function spool(reader: ByteReader, handle: FileHandle, cap: number, signal: AbortSignal | undefined) {
  let size = 0;
  for await (const chunk of reader.rest()) {
    throwIfAborted(signal);
    if (size + chunk.length > cap) {
      throw new ArchiveError(
        'too-large',
        `Zip stream is larger than ${cap} bytes (maxTotalBytes plus headers)`,
      );
    }
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, size + offset);
      offset += bytesWritten;
    }
    size += chunk.length;
  }
  return size;
}

async function extractInto(
  source: ArchiveSource,
  staging: StagingDirectory,
  budget: ExtractionBudget,
  given: ArchiveFormat | undefined,
  signal: AbortSignal | undefined,
  cleanups: (() => Promise<void>)[],
): Promise<ArchiveFormat> {
  if (typeof source === 'string') {
    const handle = await open(source, 'r');
    cleanups.push(() => handle.close());
    const stats = await handle.stat();
    if (!stats.isFile()) throw new OtaError('CONFIG', `Archive ${source} is not a regular file`);
    const head = Buffer.alloc(Math.min(SNIFF_BYTES, stats.size));
    await handle.read(head, 0, head.length, 0);
    const format = chooseFormat(head, given);
    if (format === 'zip') await extractZip(handle, stats.size, staging, budget, signal);
    else
      await extractTarStream(
        new ByteReader(filePull(handle, 0, stats.size, signal)),
        format,
        staging,
        budget,
        signal,
      );
    return format;
  }
  const input = openStream(source, signal);
  cleanups.push(input.close);
  const reader = new ByteReader(input.pull);
  const format = chooseFormat(await reader.peek(SNIFF_BYTES), given);
  if (format !== 'zip') {
    await extractTarStream(reader, format, staging, budget, signal);
    return format;
  }
  const handle = await staging.scratchFile();
  const size = await spool(reader, handle, budget.limits.maxTotalBytes + SPOOL_SLACK_BYTES, signal);
  await extractZip(handle, size, staging, budget, signal);
  return format;
}

/**
 * Extracts an archive into `destination`, which must not exist (it is created) or be an empty
 * directory. Streams: memory stays bounded whatever the archive's size.
 *
 * Refused, with an {@link ArchiveError} (code `INSTALL`) naming the entry: absolute paths, `..`
 * components (also with backslashes), drive letters, symbolic and hard links, device files,
 * FIFOs and every other non-regular entry, duplicate paths, and archives over any of the
 * {@link ArchiveLimits}, which are enforced on the bytes actually produced, not only on headers.
 * On any failure, abort included, everything extracted so far is removed (a destination that
 * was created here is removed itself) and nothing was ever written outside `destination`.
 *
 * Files keep their executable bits (an `update.sh` stays runnable) but never setuid, setgid,
 * sticky or group/other write. Files are not fsynced: the installer that moves the tree into
 * place does that.
 *
 * @example
 * ```ts
 * import { extractArchive } from 'otakit/node'
 *
 * const { entries } = await extractArchive('/var/lib/agent/release.zip', installer.stagingPath, {
 *   limits: { maxTotalBytes: 64 * 1024 * 1024 },
 *   signal,
 * })
 * ```
 */
export async function extractArchive(
  source: ArchiveSource,
  destination: string,
  options: ExtractArchiveOptions = {},
): Promise<ExtractArchiveResult> {
  const { signal } = options;
  const budget = new ExtractionBudget(resolveArchiveLimits(options.limits));
  throwIfAborted(signal);
  let staging: StagingDirectory;
  try {
    staging = await StagingDirectory.create(destination, budget);
  } catch (error) {
    throw asFailure(error, signal);
  }
  const cleanups: (() => Promise<void>)[] = [];
  const release = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  };
  try {
    const format = await extractInto(source, staging, budget, options.format, signal, cleanups);
    await release();
    const entries = await staging.finish();
    throwIfAborted(signal);
    return { format, entries, totalBytes: budget.written };
  } catch (error) {
    // Stop the source first: a decompressor still feeding must not race the removal.
    await release();
    await staging.discard();
    throw asFailure(error, signal);
  }
}
