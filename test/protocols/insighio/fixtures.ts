/** Test fixtures for the insigh.io protocol: the identities of docs/protocols/insighIo.md (reference cases) and package builders. */
import { crc32 } from '../../../src/protocols/insighio/package.js';

export const DID = '06c80d38-07a0-4f3a-87ed-ee17232cd7e7';
export const DK = '6bb7163b-6edd-42b3-8546-c76693bc2f18';
export const CC = '6979beea-6c10-4ab2-a684-11989451d7e6';
export const IDS = { controlChannelId: CC, deviceId: DID };
export const CONTEXT = { deviceId: DID, deviceKey: DK, controlChannelId: CC };
export const ORDER_TEXT =
  '[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":3987}]';
export const ORDER = { fileId: 'fa8884d2', fileType: '.tar.gz', size: 3987 };
export const OTA_TOPIC = `channels/${CC}/messages/${DID}/ota`;
export const I2_URL = `https://console.insigh.io/mf-rproxy/packages/download?fuid=fa8884d2&did=${DID}&dk=${DK}&cid=${CC}`;

/**
 * Produced by Python 3.11 `tarfile` (PAX format, as microfreezer does: a `././@PaxHeader` before
 * every member) and microfreezer's compression: 8 pseudo-gzip bytes + `zlib.compress(tar, 4)` +
 * big-endian CRC-32 of the zlib bytes. Members: `apps/`, `apps/demo_console/`,
 * `apps/demo_console/demo_scenario.py` (`print("scenario")\n`), `package_md5sum.py` (`md5sum="abc"`).
 */
export const MICROFREEZER_PACKAGE_B64 =
  'H4sIAAAAAAB4Xu3Xy2qDQBgFYNd9CnHVbnSuGheBLrvsG4SpDkVaHVED6dvXSUgvf2hLIAqN59uYzKhZ6Dk/iZM4uX80uwdrStsFk2AHPx0Zk+rzs1/nTHARhDt6oyls+8F048/T9YUQq7AeqtqueZZrpVcy4zEXuVK5uqHnwvUxbdsndPHCfKgzrWnuv2Wea8n4mHvNpM//+CoGoaY3msIx/51zA9376q/9fypG/6P/af9LOfZ/iv5fgH3/l7Z2m8I1vXu1EwwDH+rz+l8KLtH/c0D/o//R/8t12v/7L31hG9NVLm7f6BXn86FO1UfG6ZExIUj/pzJNg3CWTC68/9uuaobb6Pi8ozukflEw/zH/Mf+XqzXFi3m2m7rU/ba+yLg/4UP96/zniv7/85WA+T+Dw3NfR+apiOgeAAAAAAAAXI933HHEDtcc3Fw=';

/**
 * Produced by Python 3.11 `tarfile.open(mode='w:gz', format=PAX_FORMAT)`: a real gzip (what
 * `tar czf` makes) of one file whose 129-character path only fits in a pax `path` record:
 * `apps/ddd…/fff….py` containing `x = 1\n`.
 */
export const REAL_GZIP_PACKAGE_B64 =
  'H4sIAEaFBGsC/+3UzQqCQBSG4Vl7FXMFOr+pC6Fly25hQKMWopiB3X1W0M5aiIL0PpszzDkwi8M3cRIn+2MYDlUoq04sQr1NVWVc+jm/7rUyRgk5iBXcrn3oxufFf9I2l23oz0Vo22tSzpCcZojbe2QyWfeXuip0mnvnM5u6OE+91dpGAstYY+3PUO+cm8z/2BXaW6XH3Hs1/gXWGmOEVGvmv2ua/tvcr/5GDbKQmngBAAAAAAAAAAAAAABs1gMI3AT3ACgAAA==';
export const LONG_PATH = `apps/${'d'.repeat(60)}/${'f'.repeat(60)}.py`;

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

const encoder = new TextEncoder();

/** One member of a tar built by {@link makeTar}. */
export interface FixtureEntry {
  name: string;
  /** Type flag; default `0` (file). */
  type?: string;
  data?: Uint8Array | string;
  linkname?: string;
  prefix?: string;
  /** Emit a pax `x` header with these records before the member. */
  pax?: Record<string, string>;
  /** Corrupt the header checksum. */
  badChecksum?: boolean;
}

function field(header: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new Error(`fixture field too long: ${value}`);
  header.set(bytes, offset);
}

function octalField(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

function header(entry: FixtureEntry, size: number): Uint8Array {
  const block = new Uint8Array(512);
  field(block, 0, 100, entry.name);
  field(block, 100, 8, octalField(0o644, 8));
  field(block, 108, 8, octalField(0, 8));
  field(block, 116, 8, octalField(0, 8));
  field(block, 124, 12, octalField(size, 12));
  field(block, 136, 12, octalField(0, 12));
  field(block, 148, 8, '        ');
  field(block, 156, 1, entry.type ?? '0');
  field(block, 157, 100, entry.linkname ?? '');
  field(block, 257, 6, 'ustar\0');
  field(block, 263, 2, '00');
  field(block, 345, 155, entry.prefix ?? '');
  let sum = 0;
  for (const byte of block) sum += byte;
  if (entry.badChecksum) sum += 1;
  field(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

function paxData(records: Record<string, string>): Uint8Array {
  let out = '';
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let length = encoder.encode(body).length + 1;
    while (String(length).length + encoder.encode(body).length !== length) length++;
    out += `${length}${body}`;
  }
  return encoder.encode(out);
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}

/** A ustar archive (with optional pax headers), ended by two zero blocks. */
export function makeTar(entries: FixtureEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    if (entry.pax) {
      const data = paxData(entry.pax);
      parts.push(header({ name: '././@PaxHeader', type: 'x' }, data.length), padded(data));
    }
    const data =
      typeof entry.data === 'string' ? encoder.encode(entry.data) : (entry.data ?? new Uint8Array(0));
    parts.push(header(entry, data.length), padded(data));
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function compress(data: Uint8Array, format: 'deflate' | 'gzip'): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** microfreezer's `.tar.gz`: pseudo header + zlib stream + big-endian CRC-32 of the zlib bytes. */
export async function microfreezer(tar: Uint8Array): Promise<Uint8Array> {
  const zlib = await compress(tar, 'deflate');
  const trailer = new Uint8Array(4);
  new DataView(trailer.buffer).setUint32(0, crc32(zlib), false);
  return concat([Uint8Array.of(0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0), zlib, trailer]);
}

/** A real gzip, as `tar czf` makes. */
export function gzip(tar: Uint8Array): Promise<Uint8Array> {
  return compress(tar, 'gzip');
}

export const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
