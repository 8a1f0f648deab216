/**
 * Decompresses a `.tar.gz`: standard gzip (one or more members, CRC-32 and length checked by
 * zlib), or the insigh.io package variant (docs/protocols/insighIo.md, docs/install.md#archives): the 8 bytes
 * `1f 8b 08 00 00 00 00 00`, a zlib stream, then a big-endian CRC-32 of that zlib stream. That
 * variant is not valid gzip (a gzip reader takes the zlib header for XFL/OS and then fails the
 * trailer), so it is recognised by the zlib header where gzip has XFL, which is 0, 2 or 4.
 *
 * @module
 */
import { crc32, createGunzip, createInflate } from 'node:zlib';
import { ArchiveError } from '../../archive/errors.js';
import type { ExtractionBudget } from './budget.js';
import type { ByteReader } from './byte-reader.js';
import { throughZlib, ZLIB_OPTIONS } from './zlib-stream.js';

const INSIGHIO_PREFIX = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00];

/** Whether `head` starts an insigh.io package: the fixed 8 bytes, then a valid zlib header. */
export function isInsighioPackage(head: Uint8Array): boolean {
  if (head.length < 10 || INSIGHIO_PREFIX.some((byte, index) => head[index] !== byte)) return false;
  const cmf = head[8]!;
  const flg = head[9]!;
  // RFC 1950: compression method 8 (deflate) and a header checksum divisible by 31.
  return (cmf & 0x0f) === 8 && (cmf * 256 + flg) % 31 === 0;
}

/** Passes the zlib stream on, holding back the last 4 bytes, and checks them as its CRC-32. */
async function* withoutCrcTrailer(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let held = new Uint8Array(0);
  let crc = 0;
  for await (const chunk of input) {
    let out: Uint8Array;
    if (chunk.length >= 4) {
      out = new Uint8Array(held.length + chunk.length - 4);
      out.set(held);
      out.set(chunk.subarray(0, chunk.length - 4), held.length);
      held = chunk.slice(chunk.length - 4);
    } else {
      const joined = new Uint8Array(held.length + chunk.length);
      joined.set(held);
      joined.set(chunk, held.length);
      const keep = Math.min(4, joined.length);
      out = joined.subarray(0, joined.length - keep);
      held = joined.slice(joined.length - keep);
    }
    if (out.length > 0) {
      crc = crc32(out, crc);
      yield out;
    }
  }
  if (held.length < 4)
    throw new ArchiveError('corrupt', 'insigh.io package is truncated (no CRC-32 trailer)');
  const expected = ((held[0]! << 24) | (held[1]! << 16) | (held[2]! << 8) | held[3]!) >>> 0;
  if (expected !== crc >>> 0) {
    throw new ArchiveError('corrupt', 'insigh.io package CRC-32 trailer does not match its zlib stream');
  }
}

/**
 * The decompressed bytes of the gzip (or insigh.io) stream in `reader`, counted in `budget` for
 * the compression ratio.
 */
export async function* decompressGzip(
  reader: ByteReader,
  budget: ExtractionBudget,
): AsyncGenerator<Uint8Array> {
  const onInput = (chunk: Uint8Array) => budget.addCompressed(chunk.length);
  const onOutput = (chunk: Uint8Array) => budget.addDecompressed(chunk.length);
  if (isInsighioPackage(await reader.peek(10))) {
    await reader.skip(8);
    yield* throughZlib(withoutCrcTrailer(reader.rest()), createInflate(ZLIB_OPTIONS), onInput, onOutput);
  } else {
    yield* throughZlib(reader.rest(), createGunzip(ZLIB_OPTIONS), onInput, onOutput);
  }
}
