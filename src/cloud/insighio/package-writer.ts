/**
 * Writes insigh.io OTA packages that a real device can apply: a plain ustar (the safe default,
 * which every firmware reads), microfreezer's pseudo-gzip (8 bytes `1f 8b 08 00 00 00 00 00`, a
 * zlib stream, a big-endian CRC-32 of the zlib bytes: what the reference firmware expects of a
 * `.tar.gz`), or a standard gzip (only otakit agents apply it; the reference firmware cannot).
 * See docs/cloud/insighio.md.
 *
 * The tar is written for the reference firmware's minimal reader, which looks at the 100-byte
 * name field and the size only: no pax or GNU extension headers (it would write them out as
 * files), no `prefix` field (it ignores it), regular files and directories only (it ignores the
 * type flag and takes a name ending in `/` for a directory), and every parent directory before
 * the files in it (it does not create parents). Browser-safe: web streams and no `node:*`.
 *
 * @module
 */
import { normaliseEntryPath } from '../../archive/entry-path.js';
import { BLOCK_SIZE } from '../../archive/tar-header.js';
import { ManifestError, OtaError } from '../../core/errors.js';
import { LIMITS } from '../../protocols/insighio/limits.js';
import { crc32 } from '../../protocols/insighio/package.js';

/** One file or directory of a package, with its path relative to the device root. */
export interface PackageFile {
  /** `apps/demo_console/scenario.py`: relative, `/`-separated, no `..`, at most 100 bytes. */
  path: string;
  /** The content (text is written as UTF-8). Absent for a directory. */
  data?: Uint8Array | string;
  /** @default 'file' ('directory' when the path ends with `/`) */
  type?: 'file' | 'directory';
  /** Permission bits. @default 0o644 for a file, 0o755 for a directory */
  mode?: number;
}

/**
 * What the package's bytes are:
 * - `tar`: a plain ustar, file type `.tar` (the safe default, microfreezer's default too);
 * - `insighio-zlib`: microfreezer's pseudo-gzip, file type `.tar.gz` (the reference firmware's `.tar.gz`);
 * - `gzip`: a standard gzip, file type `.tar.gz`, applied by otakit agents only.
 */
export type PackageWriteFormat = 'tar' | 'insighio-zlib' | 'gzip';

export interface WriteTarOptions {
  /**
   * Modification time written in every header, in seconds since 1970. The same files give the
   * same bytes (and the same file id) whenever they are packed.
   * @default 0
   */
  mtime?: number;
}

/** A package, ready to publish. */
export interface WrittenPackage {
  bytes: Uint8Array;
  format: PackageWriteFormat;
  /** The order's `t`, the extension the device saves the download with. */
  fileType: '.tar' | '.tar.gz';
}

const WHAT = 'insigh.io package';
/** The reference firmware reads the name from the 100-byte field alone (no ustar `prefix`). */
const NAME_FIELD_BYTES = 100;
/** Largest number an 11-digit octal size field holds. */
const MAX_OCTAL_11 = 0o77777777777;
const PSEUDO_GZIP_HEADER = Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00);
const encoder = new TextEncoder();

function fail(path: string, expected: string): never {
  throw new ManifestError(WHAT, [{ path, expected }]);
}

/** The entry's path as the tar will hold it, or a `ManifestError` naming the field. */
function safePath(raw: unknown, field: string): { path: string; trailingSlash: boolean } {
  if (typeof raw !== 'string') return fail(field, 'a relative path as a string');
  try {
    const { path, trailingSlash } = normaliseEntryPath(raw);
    if (path === '') return fail(field, 'a path below the device root, not the root itself');
    return { path, trailingSlash };
  } catch (error) {
    if (error instanceof ManifestError) throw error;
    return fail(
      field,
      'a relative path of "/"-separated names: no leading "/", no "..", no backslash, no NUL',
    );
  }
}

function writeString(block: Uint8Array, offset: number, length: number, bytes: Uint8Array): void {
  block.set(bytes.subarray(0, length), offset);
}

/** `value` as zero-padded octal digits followed by a NUL, filling `length` bytes. */
function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, encoder.encode(`${value.toString(8).padStart(length - 1, '0')}\0`));
}

function header(name: Uint8Array, type: '0' | '5', mode: number, size: number, mtime: number): Uint8Array {
  const block = new Uint8Array(BLOCK_SIZE);
  writeString(block, 0, NAME_FIELD_BYTES, name);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtime);
  block.fill(0x20, 148, 156); // the checksum is summed with its own field as spaces
  block[156] = type.charCodeAt(0);
  writeString(block, 257, 6, encoder.encode('ustar\0'));
  writeString(block, 263, 2, encoder.encode('00'));
  writeOctal(block, 329, 8, 0); // devmajor
  writeOctal(block, 337, 8, 0); // devminor
  let sum = 0;
  for (const byte of block) sum += byte;
  // Six digits, NUL, space: the layout GNU tar and Python's tarfile write.
  writeString(block, 148, 8, encoder.encode(`${sum.toString(8).padStart(6, '0')}\0 `));
  return block;
}

interface Entry {
  path: string;
  type: 'file' | 'directory';
  mode: number;
  data: Uint8Array;
}

/** The entries in the order a device can apply them: each directory before what it holds. */
function plan(files: readonly PackageFile[]): Entry[] {
  if (!Array.isArray(files) || files.length === 0) fail('files', 'at least one file');
  if (files.length > LIMITS.maxTarEntries) fail('files', `at most ${LIMITS.maxTarEntries} entries`);
  const entries: Entry[] = [];
  const kinds = new Map<string, 'file' | 'directory'>();
  const add = (entry: Entry, field: string) => {
    const known = kinds.get(entry.path);
    if (known !== undefined) {
      if (known === 'directory' && entry.type === 'directory') return;
      fail(field, 'a path that no other file or directory of the package has');
    }
    kinds.set(entry.path, entry.type);
    entries.push(entry);
  };
  files.forEach((file, index) => {
    const field = `files[${index}]`;
    if (file === null || typeof file !== 'object') fail(field, 'an object with a path');
    const { path, trailingSlash } = safePath(file.path, `${field}.path`);
    const type = file.type ?? (trailingSlash ? 'directory' : 'file');
    if (type !== 'file' && type !== 'directory') fail(`${field}.type`, '"file" or "directory"');
    if (type === 'file' && trailingSlash) fail(`${field}.path`, 'a file path without a trailing "/"');
    const mode = file.mode ?? (type === 'directory' ? 0o755 : 0o644);
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
      fail(`${field}.mode`, 'permission bits (0 to 0o7777)');
    let data: Uint8Array;
    if (type === 'directory') {
      if (file.data !== undefined) fail(`${field}.data`, 'no content for a directory');
      data = new Uint8Array(0);
    } else if (typeof file.data === 'string') data = encoder.encode(file.data);
    else if (file.data instanceof Uint8Array) data = file.data;
    else data = fail(`${field}.data`, 'the content as bytes or text');
    const segments = path.split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = segments.slice(0, depth).join('/');
      if (kinds.get(parent) === 'file') fail(`${field}.path`, 'a path whose parents are directories');
      add({ path: parent, type: 'directory', mode: 0o755, data: new Uint8Array(0) }, field);
    }
    add({ path, type, mode, data }, field);
  });
  return entries;
}

/**
 * A ustar of `files` that the reference firmware and every tar reader extract alike: parents
 * first, directories named with a trailing `/`, no extension headers, deterministic bytes.
 * @throws ManifestError naming the file and what was expected: an unsafe or over-long path (over
 * 100 bytes, which the firmware cannot read), a duplicate, a directory with content, a package
 * over LIMITS.maxPackageBytes.
 *
 * @example
 * ```ts
 * const tar = writeTar([{ path: 'boot.py', data: 'print("v2")\n' }])
 * ```
 */
export function writeTar(files: readonly PackageFile[], options: WriteTarOptions = {}): Uint8Array {
  const mtime = options.mtime ?? 0;
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > MAX_OCTAL_11) {
    throw new OtaError('CONFIG', 'Package mtime must be a whole number of seconds since 1970');
  }
  const entries = plan(files);
  const blocks: Uint8Array[] = [];
  let total = 0;
  entries.forEach((entry, index) => {
    const name = encoder.encode(entry.type === 'directory' ? `${entry.path}/` : entry.path);
    if (name.length > NAME_FIELD_BYTES) {
      fail(
        `files[${index}].path`,
        `a path of at most ${NAME_FIELD_BYTES} bytes (the device reads no longer tar names)`,
      );
    }
    total += BLOCK_SIZE + Math.ceil(entry.data.length / BLOCK_SIZE) * BLOCK_SIZE;
    if (total > LIMITS.maxPackageBytes) {
      fail('files', `files that fit in ${LIMITS.maxPackageBytes} bytes (what a device unpacks at most)`);
    }
    blocks.push(header(name, entry.type === 'directory' ? '5' : '0', entry.mode, entry.data.length, mtime));
    if (entry.data.length > 0) blocks.push(entry.data);
  });
  const tar = new Uint8Array(total + 2 * BLOCK_SIZE); // two zero blocks end the archive
  let offset = 0;
  for (const block of blocks) {
    tar.set(block, offset);
    offset += Math.ceil(block.length / BLOCK_SIZE) * BLOCK_SIZE;
  }
  return tar;
}

async function compress(bytes: Uint8Array, format: 'deflate' | 'gzip'): Promise<Uint8Array> {
  if (typeof CompressionStream !== 'function') {
    throw new OtaError('CONFIG', `This runtime has no CompressionStream: write a plain tar (format "tar")`);
  }
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  const output = input.pipeThrough(
    new CompressionStream(format) as unknown as ReadableWritablePair<Uint8Array, Uint8Array>,
  );
  return new Uint8Array(await new Response(output).arrayBuffer());
}

/**
 * microfreezer's pseudo-gzip of a tar: 8 bytes `1f 8b 08 00 00 00 00 00`, the tar as a zlib
 * stream (RFC 1950), and the CRC-32 of that zlib stream, big-endian. What the reference firmware
 * inflates as a `.tar.gz` (it skips 8 bytes and reads zlib). Needs `CompressionStream`.
 * @throws OtaError (`CONFIG`) when the runtime has no `CompressionStream`.
 */
export async function wrapPseudoGzip(tar: Uint8Array): Promise<Uint8Array> {
  const zlib = await compress(tar, 'deflate');
  const out = new Uint8Array(PSEUDO_GZIP_HEADER.length + zlib.length + 4);
  out.set(PSEUDO_GZIP_HEADER, 0);
  out.set(zlib, PSEUDO_GZIP_HEADER.length);
  new DataView(out.buffer).setUint32(out.length - 4, crc32(zlib), false);
  return out;
}

/**
 * A standard gzip of a tar (RFC 1952). otakit agents apply it; the reference firmware does not
 * (it expects microfreezer's format): publish it only to otakit devices.
 * @throws OtaError (`CONFIG`) when the runtime has no `CompressionStream`.
 */
export function wrapGzip(tar: Uint8Array): Promise<Uint8Array> {
  return compress(tar, 'gzip');
}

/**
 * A package of `files` in `format`, with the file type its order names.
 * @throws ManifestError for files {@link writeTar} refuses; OtaError (`CONFIG`) for an unknown
 * format, or a compressed one where the runtime has no `CompressionStream`.
 *
 * @example
 * ```ts
 * const pkg = await writePackage([{ path: 'apps/demo/main.py', data: source }], { format: 'insighio-zlib' })
 * pkg.fileType // '.tar.gz'
 * ```
 */
export async function writePackage(
  files: readonly PackageFile[],
  options: WriteTarOptions & {
    /** @default 'tar' */
    format?: PackageWriteFormat;
  } = {},
): Promise<WrittenPackage> {
  const format = options.format ?? 'tar';
  const tar = writeTar(files, options);
  switch (format) {
    case 'tar':
      return { bytes: tar, format, fileType: '.tar' };
    case 'insighio-zlib':
      return { bytes: await wrapPseudoGzip(tar), format, fileType: '.tar.gz' };
    case 'gzip':
      return { bytes: await wrapGzip(tar), format, fileType: '.tar.gz' };
    default:
      throw new OtaError('CONFIG', 'Package format must be "tar", "insighio-zlib" or "gzip"');
  }
}
