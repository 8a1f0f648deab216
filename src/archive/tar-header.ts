/**
 * One 512-byte tar header block: ustar (POSIX), GNU and old v7 layouts. Numbers are octal text
 * or, for GNU's large values, base-256; the checksum is verified before anything is trusted.
 *
 * @module
 */
import { ArchiveError } from './errors.js';

export const BLOCK_SIZE = 512;

export interface TarHeader {
  /** `prefix/name` (ustar) or `name`, decoded as UTF-8. */
  name: string;
  mode: number;
  size: number;
  /** The type flag character; `'\0'` for the old "regular file" flag. */
  type: string;
  linkName: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isZeroBlock(block: Uint8Array): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

/** Bytes up to the first NUL (fields are NUL-terminated unless full). */
function field(block: Uint8Array, start: number, length: number): Uint8Array {
  const bytes = block.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return end === -1 ? bytes : bytes.subarray(0, end);
}

function text(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch (error) {
    throw new ArchiveError('invalid-name', `Tar ${what} is not valid UTF-8`, { cause: error });
  }
}

/** A GNU long name or link (`L`, `K` entries): UTF-8 data up to its terminating NUL. */
export function parseLongName(data: Uint8Array): string {
  const end = data.indexOf(0);
  return text(end === -1 ? data : data.subarray(0, end), 'long name');
}

/** A numeric field: octal text (spaces/NUL padded), or GNU base-256 when the top bit is set. */
export function parseNumber(block: Uint8Array, start: number, length: number): number | undefined {
  const bytes = block.subarray(start, start + length);
  const first = bytes[0] ?? 0;
  if (first & 0x80) {
    // 0x80 marks a positive base-256 number; 0xff a negative one, which no size or mode can be.
    if (first !== 0x80) return undefined;
    let value = 0;
    for (let index = 1; index < bytes.length; index++) {
      value = value * 256 + bytes[index]!;
      if (value > Number.MAX_SAFE_INTEGER) return undefined;
    }
    return value;
  }
  let index = 0;
  while (index < bytes.length && bytes[index] === 0x20) index++;
  let value = 0;
  let digits = 0;
  for (; index < bytes.length; index++) {
    const byte = bytes[index]!;
    if (byte === 0 || byte === 0x20) break;
    if (byte < 0x30 || byte > 0x37) return undefined;
    value = value * 8 + (byte - 0x30);
    digits++;
  }
  // After the digits only terminators may follow.
  for (; index < bytes.length; index++) if (bytes[index] !== 0 && bytes[index] !== 0x20) return undefined;
  return digits === 0 ? 0 : value;
}

/** Whether the header checksum matches (unsigned, or the signed sum some old tars wrote). */
export function checksumMatches(block: Uint8Array): boolean {
  const stored = parseNumber(block, 148, 8);
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let index = 0; index < BLOCK_SIZE; index++) {
    const byte = index >= 148 && index < 156 ? 0x20 : block[index]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

function hasMagic(block: Uint8Array, magic: string): boolean {
  for (let index = 0; index < magic.length; index++)
    if (block[257 + index] !== magic.charCodeAt(index)) return false;
  return true;
}

/**
 * Parses a header block that is not all zeros.
 *
 * @throws {ArchiveError} `corrupt` on a bad checksum or number, `invalid-name` on non-UTF-8 names.
 */
export function parseTarHeader(block: Uint8Array): TarHeader {
  if (!checksumMatches(block)) throw new ArchiveError('corrupt', 'Tar header checksum does not match');
  const mode = parseNumber(block, 100, 8);
  const size = parseNumber(block, 124, 12);
  if (mode === undefined || size === undefined)
    throw new ArchiveError('corrupt', 'Tar header has an invalid number');
  const name = text(field(block, 0, 100), 'entry name');
  // Only POSIX ustar has the prefix field; GNU's "ustar  " uses those bytes for other things.
  const prefix = hasMagic(block, 'ustar\0') ? text(field(block, 345, 155), 'entry name prefix') : '';
  return {
    name: prefix === '' ? name : `${prefix}/${name}`,
    mode,
    size,
    type: String.fromCharCode(block[156]!),
    linkName: text(field(block, 157, 100), 'link name'),
  };
}
