/**
 * Builds tar, tar.gz, insigh.io and zip archives byte by byte for the extraction tests, including
 * the malformed and malicious ones no well-behaved tool would write. Nothing binary is committed:
 * every fixture is made here, when the tests run.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, crc32, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';

const encoder = new TextEncoder();

export function toBytes(data: Uint8Array | string | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return typeof data === 'string' ? encoder.encode(data) : data;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// tar
// ---------------------------------------------------------------------------------------------

export interface TarSpec {
  name: string | Uint8Array;
  /** Type flag character. @default '0' */
  type?: string;
  /** @default 0o644 (0o755 for directories) */
  mode?: number;
  data?: Uint8Array | string;
  /** Declared size, when it must differ from the data's length. */
  size?: number;
  linkName?: string;
  /** ustar prefix field. */
  prefix?: string;
  /** @default 'ustar' */
  magic?: 'ustar' | 'gnu' | 'v7';
  /** Corrupt the checksum. */
  badChecksum?: boolean;
}

function writeText(block: Uint8Array, offset: number, length: number, value: string | Uint8Array): void {
  const bytes = toBytes(value);
  if (bytes.length > length) throw new Error(`tar field too long: ${bytes.length} > ${length}`);
  block.set(bytes, offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeText(block, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

export function tarHeader(spec: TarSpec): Uint8Array {
  const block = new Uint8Array(512);
  const data = toBytes(spec.data);
  const type = spec.type ?? '0';
  writeText(block, 0, 100, spec.name);
  writeOctal(block, 100, 8, spec.mode ?? (type === '5' ? 0o755 : 0o644));
  writeOctal(block, 108, 8, 1000);
  writeOctal(block, 116, 8, 1000);
  const size = spec.size ?? data.length;
  if (size > 0o77777777777) {
    // GNU base-256 for sizes that do not fit 11 octal digits.
    block[124] = 0x80;
    let rest = size;
    for (let index = 135; index > 124; index--) {
      block[index] = rest % 256;
      rest = Math.floor(rest / 256);
    }
  } else {
    writeOctal(block, 124, 12, size);
  }
  writeOctal(block, 136, 12, 1_700_000_000);
  block[156] = type.charCodeAt(0);
  writeText(block, 157, 100, spec.linkName ?? '');
  const magic = spec.magic ?? 'ustar';
  if (magic === 'ustar') writeText(block, 257, 8, 'ustar\u000000');
  if (magic === 'gnu') writeText(block, 257, 8, 'ustar  \0');
  if (magic !== 'v7') {
    writeText(block, 265, 32, 'otakit');
    writeText(block, 297, 32, 'otakit');
  }
  if (spec.prefix !== undefined) writeText(block, 345, 155, spec.prefix);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  if (spec.badChecksum) sum += 1;
  writeText(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

function pad(length: number): Uint8Array {
  return new Uint8Array((512 - (length % 512)) % 512);
}

/** Header, data and padding of one entry. */
export function tarEntry(spec: TarSpec): Uint8Array {
  const data = toBytes(spec.data);
  return concat([tarHeader(spec), data, pad(data.length)]);
}

/** A pax extended header (`x`, or `g` for global) carrying `records`. */
export function paxEntry(records: Record<string, string>, type: 'x' | 'g' = 'x'): Uint8Array {
  const lines = Object.entries(records).map(([key, value]) => {
    const body = ` ${key}=${value}\n`;
    const bodyLength = encoder.encode(body).length;
    let length = bodyLength + 1;
    while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
    return `${length}${body}`;
  });
  return tarEntry({ name: type === 'x' ? './PaxHeaders/entry' : './GlobalHead', type, data: lines.join('') });
}

/** A GNU long-name (`L`) or long-link (`K`) header. */
export function longNameEntry(name: string, type: 'L' | 'K' = 'L'): Uint8Array {
  return tarEntry({ name: '././@LongLink', type, data: `${name}\0`, magic: 'gnu' });
}

export function file(name: string, data: Uint8Array | string, mode = 0o644): Uint8Array {
  return tarEntry({ name, data, mode });
}

export function dir(name: string, mode = 0o755): Uint8Array {
  return tarEntry({ name, type: '5', mode });
}

/** Entries followed by the two zero blocks that end an archive (unless `end` is false). */
export function tar(entries: readonly Uint8Array[], end = true): Uint8Array {
  return concat([...entries, ...(end ? [new Uint8Array(1024)] : [])]);
}

export function gzip(data: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(data));
}

/** insigh.io's package: 8 fixed bytes, zlib at level 4, big-endian CRC-32 of the zlib bytes. */
export function insighioPackage(tarBytes: Uint8Array, crcDelta = 0): Uint8Array {
  const compressed = deflateSync(tarBytes, { level: 4 });
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE((crc32(compressed) + crcDelta) >>> 0);
  return concat([Uint8Array.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]), compressed, trailer]);
}

// ---------------------------------------------------------------------------------------------
// zip
// ---------------------------------------------------------------------------------------------

export interface ZipSpec {
  name: string;
  data?: Uint8Array | string;
  /** @default 8 (deflate) for files, 0 for directories */
  method?: number;
  /** Unix st_mode, type bits included. @default S_IFREG|0o644, or S_IFDIR|0o755 for names ending in `/` */
  mode?: number;
  /** "Version made by" host: 3 Unix, 0 MS-DOS. @default 3 */
  host?: number;
  /** MS-DOS attributes (low byte of the external attributes). */
  dosAttributes?: number;
  /** Write sizes and CRC after the data (flag bit 3), zeros in the local header. */
  dataDescriptor?: boolean;
  flags?: number;
  /** Precompressed body; then `size` and `crc` must be given. */
  compressed?: Uint8Array;
  size?: number;
  crc?: number;
  /** Lies: what the central directory (and local header) declare. */
  declaredSize?: number;
  declaredCompressedSize?: number;
  declaredCrc?: number;
  localName?: string;
  /** Point this entry's central record at an earlier entry's local header (overlap bomb). */
  reuseLocalOf?: number;
  extra?: Uint8Array;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

function le16(value: number): Uint8Array {
  const out = Buffer.alloc(2);
  out.writeUInt16LE(value);
  return out;
}

function le32(value: number): Uint8Array {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(value >>> 0);
  return out;
}

export function zip(specs: readonly ZipSpec[], options: { comment?: string } = {}): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  const offsets: number[] = [];
  let offset = 0;
  for (const spec of specs) {
    const isDirectory = spec.name.endsWith('/');
    const raw = toBytes(spec.data);
    const method = spec.method ?? (isDirectory ? 0 : 8);
    const body = spec.compressed ?? (method === 8 ? deflateRawSync(raw) : raw);
    const size = spec.declaredSize ?? spec.size ?? raw.length;
    const crc = spec.declaredCrc ?? spec.crc ?? crc32(raw);
    const flags = (spec.flags ?? 0) | (spec.dataDescriptor ? 0x8 : 0) | 0x800;
    const name = toBytes(spec.name);
    const localName = toBytes(spec.localName ?? spec.name);
    const extra = spec.extra ?? new Uint8Array(0);
    const compressedSize = spec.declaredCompressedSize ?? body.length;
    const localSizes = spec.dataDescriptor
      ? [le32(0), le32(0), le32(0)]
      : [le32(crc), le32(compressedSize), le32(size)];
    const local = concat([
      le32(0x04034b50),
      le16(20),
      le16(flags),
      le16(method),
      le16(0),
      le16(0x21),
      ...localSizes,
      le16(localName.length),
      le16(0),
      localName,
    ]);
    const descriptor = spec.dataDescriptor
      ? concat([le32(0x08074b50), le32(crc), le32(compressedSize), le32(size)])
      : new Uint8Array(0);
    let localOffset = offset;
    if (spec.reuseLocalOf === undefined) {
      locals.push(local, body, descriptor);
      offset += local.length + body.length + descriptor.length;
    } else {
      localOffset = offsets[spec.reuseLocalOf]!;
    }
    offsets.push(localOffset);
    const mode = spec.mode ?? (isDirectory ? S_IFDIR | 0o755 : S_IFREG | 0o644);
    const host = spec.host ?? 3;
    const external = (host === 3 ? mode * 0x10000 : 0) + (spec.dosAttributes ?? (isDirectory ? 0x10 : 0));
    centrals.push(
      concat([
        le32(0x02014b50),
        le16((host << 8) | 30),
        le16(20),
        le16(flags),
        le16(method),
        le16(0),
        le16(0x21),
        le32(crc),
        le32(compressedSize),
        le32(size),
        le16(name.length),
        le16(extra.length),
        le16(0),
        le16(0),
        le16(0),
        le32(external),
        le32(localOffset),
        name,
        extra,
      ]),
    );
  }
  const directory = concat(centrals);
  const comment = toBytes(options.comment ?? '');
  const end = concat([
    le32(0x06054b50),
    le16(0),
    le16(0),
    le16(specs.length),
    le16(specs.length),
    le32(directory.length),
    le32(offset),
    le16(comment.length),
    comment,
  ]);
  return concat([...locals, directory, end]);
}

// ---------------------------------------------------------------------------------------------
// bombs: gigabytes of zeros in about a megabyte, built without ever holding the zeros
// ---------------------------------------------------------------------------------------------

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
const PIECE_BYTES = 16 * MiB;
const zeroPiece = new Uint8Array(PIECE_BYTES);
let deflatedPiece: Uint8Array | undefined;

/**
 * 16 MiB of zeros as raw deflate, ended by a full flush: byte-aligned, not final and with no
 * reference to earlier data, so copies can be concatenated into one valid deflate stream.
 */
function zerosPiece(): Uint8Array {
  deflatedPiece ??= deflateRawSync(zeroPiece, { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  return deflatedPiece;
}

function flushed(data: Uint8Array): Uint8Array {
  return deflateRawSync(data, { finishFlush: constants.Z_FULL_FLUSH });
}

function finalBlock(data: Uint8Array = new Uint8Array(0)): Uint8Array {
  return deflateRawSync(data);
}

function zerosCrc(bytes: number, crc = 0): number {
  let left = bytes;
  let value = crc;
  while (left > 0) {
    const part = Math.min(left, PIECE_BYTES);
    value = crc32(zeroPiece.subarray(0, part), value);
    left -= part;
  }
  return value;
}

/**
 * A `.tar.gz` whose tar holds `entries` files of zeros, `totalBytes` in all (a multiple of
 * 16 MiB per entry). One gzip member, valid CRC and length: only its size is hostile.
 */
export function gzipTarBomb(totalBytes: number, entries = 1): Uint8Array {
  const perEntry = totalBytes / entries;
  if (perEntry % PIECE_BYTES !== 0) throw new Error('bomb entries must be multiples of 16 MiB');
  const parts: Uint8Array[] = [Uint8Array.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff])];
  let crc = 0;
  let length = 0;
  for (let index = 0; index < entries; index++) {
    const header = tarHeader({ name: `zeros-${index}.bin`, size: perEntry });
    parts.push(flushed(header));
    crc = crc32(header, crc);
    for (let piece = 0; piece < perEntry / PIECE_BYTES; piece++) parts.push(zerosPiece());
    crc = zerosCrc(perEntry, crc);
    length += 512 + perEntry;
  }
  const end = new Uint8Array(1024);
  parts.push(finalBlock(end));
  crc = crc32(end, crc);
  length += end.length;
  parts.push(le32(crc), le32(length % 2 ** 32));
  return concat(parts);
}

/** A `.zip` with one deflated entry of `totalBytes` zeros (a multiple of 16 MiB). */
export function zipBomb(totalBytes: number, lie?: { declaredSize: number }): Uint8Array {
  if (totalBytes % PIECE_BYTES !== 0) throw new Error('bomb size must be a multiple of 16 MiB');
  const pieces = Array.from({ length: totalBytes / PIECE_BYTES }, zerosPiece);
  const compressed = concat([...pieces, finalBlock()]);
  return zip([
    {
      name: 'zeros.bin',
      compressed,
      size: lie?.declaredSize ?? totalBytes,
      crc: zerosCrc(totalBytes),
    },
  ]);
}

// ---------------------------------------------------------------------------------------------
// file-system helpers
// ---------------------------------------------------------------------------------------------

/** A fresh directory for one test: `root/` holds the archive, `root/out` is the destination. */
export async function sandbox(): Promise<{ root: string; out: string; remove: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), `otakit-archive-${randomBytes(3).toString('hex')}-`));
  return { root, out: join(root, 'out'), remove: () => rm(root, { recursive: true, force: true }) };
}

/** Every path under `directory`, relative, sorted; directories end with `/`. */
export async function listTree(directory: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (relative: string) => {
    for (const name of await readdir(join(directory, relative))) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const stats = await lstat(join(directory, path));
      if (stats.isDirectory()) {
        out.push(`${path}/`);
        await walk(path);
      } else {
        out.push(path);
      }
    }
  };
  await walk('');
  return out.sort();
}
