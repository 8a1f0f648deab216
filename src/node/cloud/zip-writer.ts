/**
 * A small zip writer for release packages: stored or deflated entries (node:zlib), Unix modes
 * kept (so `update.sh` stays executable), and a fixed timestamp, so the same files always make
 * the same bytes and the same digest. No ZIP64: a release past 4 GiB or 65 535 entries is refused.
 *
 * @module
 */
import { crc32, deflateRawSync } from 'node:zlib';
import { OtaError } from '../../core/errors.js';

/** One file of the archive. */
export interface ZipEntryInput {
  /** The path inside the archive, `/`-separated (`update.sh`, `app/service.py`). */
  name: string;
  /** The content: text (written as UTF-8) or bytes. */
  data: string | Uint8Array;
  /** Unix permission bits. @default 0o755 for `update.sh` and names ending in `.sh`, else 0o644 */
  mode?: number;
  /**
   * `store` keeps the bytes as they are; `deflate` compresses them. @default 'deflate' when it
   * makes the entry smaller, else 'store'
   */
  method?: 'store' | 'deflate';
}

const LIMIT_32 = 0xffff_ffff;
const LIMIT_16 = 0xffff;
const STORE = 0;
const DEFLATE = 8;
/** 1980-01-01 00:00, the earliest DOS date: every archive gets the same timestamp. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
/** General-purpose flag bit 11: names are UTF-8. */
const UTF8_NAMES = 0x0800;
/** "Made by" Unix (3), zip 2.0: readers then take the mode from the external attributes. */
const MADE_BY_UNIX = (3 << 8) | 20;
const S_IFREG = 0o100000;

const encoder = new TextEncoder();

function tooLarge(what: string): OtaError {
  return new OtaError('CONFIG', `Release zip: ${what} (this writer does not write ZIP64)`);
}

function defaultMode(name: string): number {
  return name.endsWith('.sh') ? 0o755 : 0o644;
}

/**
 * The bytes of a zip archive holding `entries`, in order.
 *
 * @throws OtaError (`CONFIG`) for an empty or duplicate name, a mode that is not permission bits,
 *   or an archive too large for a plain zip.
 *
 * @example
 * ```ts
 * const zip = writeZip([{ name: 'update.sh', data: '#!/bin/sh\nsystemctl restart app\n' }])
 * ```
 */
export function writeZip(entries: readonly ZipEntryInput[]): Uint8Array {
  if (entries.length > LIMIT_16) throw tooLarge(`more than ${LIMIT_16} entries`);
  const parts: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (const entry of entries) {
    const name = typeof entry?.name === 'string' ? entry.name : '';
    if (name === '' || name.startsWith('/') || name.includes('\\')) {
      throw new OtaError('CONFIG', 'Release zip: every entry needs a relative "/"-separated name');
    }
    if (seen.has(name)) throw new OtaError('CONFIG', `Release zip: ${JSON.stringify(name)} is listed twice`);
    seen.add(name);
    const mode = entry.mode ?? defaultMode(name);
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new OtaError(
        'CONFIG',
        `Release zip: the mode of ${JSON.stringify(name)} must be permission bits`,
      );
    }
    const data = typeof entry.data === 'string' ? encoder.encode(entry.data) : entry.data;
    if (!(data instanceof Uint8Array)) {
      throw new OtaError('CONFIG', `Release zip: the data of ${JSON.stringify(name)} must be text or bytes`);
    }
    if (data.length > LIMIT_32) throw tooLarge(`${JSON.stringify(name)} is larger than 4 GiB`);
    const deflated = entry.method === 'store' ? undefined : deflateRawSync(data);
    const useDeflate =
      deflated !== undefined && (entry.method === 'deflate' || deflated.length < data.length);
    const body = useDeflate ? new Uint8Array(deflated.buffer, deflated.byteOffset, deflated.length) : data;
    const nameBytes = encoder.encode(name);
    if (nameBytes.length > LIMIT_16) throw tooLarge('an entry name longer than 65 535 bytes');
    const crc = crc32(data);

    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, UTF8_NAMES, true);
    local.setUint16(8, useDeflate ? DEFLATE : STORE, true);
    local.setUint16(10, DOS_TIME, true);
    local.setUint16(12, DOS_DATE, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, body.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, nameBytes.length, true);

    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, MADE_BY_UNIX, true);
    central.setUint16(6, 20, true);
    central.setUint16(8, UTF8_NAMES, true);
    central.setUint16(10, useDeflate ? DEFLATE : STORE, true);
    central.setUint16(12, DOS_TIME, true);
    central.setUint16(14, DOS_DATE, true);
    central.setUint32(16, crc, true);
    central.setUint32(20, body.length, true);
    central.setUint32(24, data.length, true);
    central.setUint16(28, nameBytes.length, true);
    central.setUint32(38, ((S_IFREG | mode) << 16) >>> 0, true);
    central.setUint32(42, offset, true);

    parts.push(new Uint8Array(local.buffer), nameBytes, body);
    centrals.push(new Uint8Array(central.buffer), nameBytes);
    offset += 30 + nameBytes.length + body.length;
    if (offset > LIMIT_32) throw tooLarge('the archive is larger than 4 GiB');
  }
  const directorySize = centrals.reduce((sum, part) => sum + part.length, 0);
  if (offset + directorySize > LIMIT_32) throw tooLarge('the archive is larger than 4 GiB');
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, directorySize, true);
  end.setUint32(16, offset, true);
  parts.push(...centrals, new Uint8Array(end.buffer));

  const out = new Uint8Array(offset + directorySize + 22);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
