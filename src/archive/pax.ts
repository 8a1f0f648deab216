/**
 * POSIX pax extended headers: records of the form `"<length> <key>=<value>\n"` that override
 * fields of the next entry (`path`, `linkpath`, `size`, ...). Python's tarfile writes one before
 * every member of an insigh.io package (see docs/protocols/insighIo.md).
 *
 * @module
 */
import { ArchiveError } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function corrupt(detail: string): ArchiveError {
  return new ArchiveError('corrupt', `Tar pax header is malformed: ${detail}`);
}

/**
 * Parses the records of one pax header; a later record for a key replaces an earlier one.
 *
 * @throws {ArchiveError} `corrupt` if a record's length, separator or encoding is wrong.
 */
export function parsePaxRecords(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    // Trailing NUL padding after the last record is tolerated (some writers round up).
    if (data[offset] === 0) {
      if (data.subarray(offset).every((byte) => byte === 0)) break;
      throw corrupt('NUL between records');
    }
    const space = data.indexOf(0x20, offset);
    if (space === -1 || space - offset > 20) throw corrupt('record without a length');
    let length = 0;
    for (let index = offset; index < space; index++) {
      const byte = data[index]!;
      if (byte < 0x30 || byte > 0x39) throw corrupt('record length is not a decimal number');
      length = length * 10 + (byte - 0x30);
    }
    const end = offset + length;
    if (length <= space - offset + 1 || end > data.length || data[end - 1] !== 0x0a) {
      throw corrupt('record length does not fit the data');
    }
    const body = data.subarray(space + 1, end - 1);
    const equals = body.indexOf(0x3d);
    if (equals <= 0) throw corrupt('record without "key="');
    let key: string;
    let value: string;
    try {
      key = utf8.decode(body.subarray(0, equals));
      value = utf8.decode(body.subarray(equals + 1));
    } catch (error) {
      throw new ArchiveError('invalid-name', 'Tar pax record is not valid UTF-8', { cause: error });
    }
    records.set(key, value);
    offset = end;
  }
  return records;
}

/** A pax `size` value: decimal digits only. */
export function parsePaxSize(value: string): number {
  if (!/^[0-9]{1,16}$/.test(value)) throw corrupt(`size ${JSON.stringify(value.slice(0, 32))}`);
  const size = Number(value);
  if (!Number.isSafeInteger(size)) throw corrupt('size is too large');
  return size;
}
