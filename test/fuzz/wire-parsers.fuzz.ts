/**
 * Fuzzing the parsers below the protocols, FUZZ_RUNS cases each: the archive readers (tar
 * headers, pax records, GNU long names, the insigh.io package reader, the zip central directory),
 * the HTTP/1 response parser and body decoder, HTTP header parsers, `data:` URLs, the shadow
 * service's document handling, topic and request-path parsers of the cloud-side servers, and the
 * manifest's and the downloader's documented refusals. Inputs are mutations of valid vectors
 * built with the same helpers as the unit tests, plus random bytes.
 */
import { relative, sep } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { normaliseEntryPath } from '../../src/archive/entry-path.js';
import { isArchiveError } from '../../src/archive/errors.js';
import { parsePaxRecords, parsePaxSize } from '../../src/archive/pax.js';
import { checksumMatches, parseLongName, parseNumber, parseTarHeader } from '../../src/archive/tar-header.js';
import { decodeFeedPage } from '../../src/cloud/exosite/feed.js';
import {
  applyUpdate,
  checkRequest,
  getShadow,
  readClientToken,
} from '../../src/cloud/shadow-service/document.js';
import { readAttributeUpdate } from '../../src/cloud/thingsboard/attribute-channel.js';
import { decodeBase64 } from '../../src/core/encoding.js';
import { isArtifactUrl } from '../../src/core/url-scheme.js';
import { decodeJson } from '../../src/core/wire.js';
import { isOtaError, ManifestSchema, parseManifest } from '../../src/index.js';
import { decodeCp437 } from '../../src/node/archive/cp437.js';
import { isInsighioPackage } from '../../src/node/archive/gzip.js';
import { sniffArchiveFormat } from '../../src/node/archive/sniff.js';
import { readZipDirectory } from '../../src/node/archive/zip-directory.js';
import { presentedKey } from '../../src/node/cloud/connhex-release-auth.js';
import { parseBasic } from '../../src/node/cloud/micropython-ota-basic-auth.js';
import { parseSingleRange } from '../../src/node/cloud/micropython-ota-conditional.js';
import { RefusedPathError, requestSegments } from '../../src/node/cloud/micropython-ota-request-path.js';
import {
  attributeRequestId,
  mayDevicePublish,
  mayDeviceSubscribe,
} from '../../src/node/cloud/thingsboard-gateway-topics.js';
import { resolveFileAddress } from '../../src/node/file-channel.js';
import { BodyDecoder, bodyFraming } from '../../src/node/http1/body-decoder.js';
import { HttpProtocolError, parseResponseHead } from '../../src/node/http1/response-head.js';
import * as insighIoPackage from '../../src/protocols/insighio/package.js';
import { decodeDataUrl } from '../../src/transport/data-url.js';
import { downloadArtifact } from '../../src/transport/download.js';
import { writableStreamSink } from '../../src/transport/download-sink.js';
import { parseContentLength, parseContentRange, parseRetryAfter } from '../../src/transport/http-headers.js';
import { topicMatches } from '../../src/transport/mqtt-connection.js';
import {
  dir,
  file,
  gzip,
  insighioPackage,
  longNameEntry,
  paxEntry,
  tar,
  tarHeader,
  zip,
} from '../support/archives.js';
import { countCase, fuzzParameters, printCounts, RUNS_LABEL } from './runs.js';
import {
  describeValue,
  fromSeeds,
  hostile,
  mutatedBytes,
  mutatedJson,
  mutatedPayload,
  mutatedText,
  typedOutcome,
} from './support.js';

afterAll(() => printCounts('wire-parsers.fuzz.ts'));

const encode = (text: string) => new TextEncoder().encode(text);
const latin1 = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0) & 0xff);

/** Archive code refuses with an ArchiveError (an InstallError: an otakit error). */
const archiveError = (error: unknown) => isArchiveError(error) || isOtaError(error);
/** The HTTP/1 layer refuses with HttpProtocolError, which nodeFetch turns into a TransportError. */
const httpError = (error: unknown) => error instanceof HttpProtocolError;

function property<T>(label: string, arbitrary: fc.Arbitrary<T>, check: (value: T) => Promise<void> | void) {
  return fc.assert(
    fc.asyncProperty(arbitrary, async (value) => {
      countCase(label);
      await check(value);
    }),
    fuzzParameters(),
  );
}

// ---------------------------------------------------------------------------------------------
// Archives

const TAR_HEADERS = [
  tarHeader({ name: 'main.py', data: 'print(1)\n' }),
  tarHeader({ name: 'lib/', type: '5' }),
  tarHeader({ name: 'link', type: '2', linkName: 'main.py' }),
  tarHeader({ name: 'a'.repeat(100), prefix: 'p'.repeat(155), data: 'x' }),
  tarHeader({ name: 'gnu.bin', magic: 'gnu', data: 'x' }),
  tarHeader({ name: 'v7.bin', magic: 'v7', data: 'x' }),
  tarHeader({ name: 'big', size: 8 ** 11 - 1 }),
];
const PAX = [
  paxEntry({ path: 'very/long/name.py', size: '12', mtime: '1.5' }).subarray(512),
  paxEntry({ linkpath: 'target', 'SCHILY.xattr.user': 'v' }).subarray(512),
];
const TARS = [
  tar([file('main.py', 'print(1)\n'), dir('lib/'), file('lib/a.py', 'a = 1\n')]),
  tar([paxEntry({ path: 'pax/name.py' }), file('ignored', 'x')]),
  tar([longNameEntry(`${'d/'.repeat(60)}long.py`), file('ignored', 'y')]),
  tar([file('only', '')], false),
];
const ZIPS = [
  zip([
    { name: 'update.sh', data: '#!/bin/sh\necho hi\n' },
    { name: 'dir/' },
    { name: 'dir/a.bin', data: 'abc', method: 0 },
  ]),
  zip([{ name: 'x', data: 'y'.repeat(100), dataDescriptor: true }], { comment: 'a comment' }),
  zip([{ name: 'e', data: 'z', extra: Uint8Array.from([0x01, 0x00, 0x08, 0x00, 1, 0, 0, 0, 0, 0, 0, 0]) }]),
];

/** A FileHandle over bytes in memory (only `read` is used by the zip reader). */
function memoryHandle(bytes: Uint8Array) {
  return {
    async read(buffer: Uint8Array, offset: number, length: number, position: number) {
      const start = Math.max(0, Math.min(position, bytes.length));
      const chunk = bytes.subarray(start, Math.min(bytes.length, start + length));
      buffer.set(chunk, offset);
      return { bytesRead: chunk.length, buffer };
    },
  };
}

const blocks = (seeds: Uint8Array[]) =>
  fc.oneof(
    { weight: 8, arbitrary: fromSeeds(seeds, mutatedBytes) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 512, maxLength: 512 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1100 }) },
  );

describe('archive parsers', () => {
  it(`parseTarHeader: ${RUNS_LABEL} mutated header blocks`, () =>
    property('parseTarHeader', blocks(TAR_HEADERS), async (block) => {
      const outcome = await typedOutcome(
        'parseTarHeader',
        () => describeValue(block),
        () => parseTarHeader(block),
        archiveError,
      );
      if (outcome.ok) {
        const header = outcome.value;
        expect(Number.isSafeInteger(header.size) && header.size >= 0, `size ${header.size}`).toBe(true);
        expect(Number.isSafeInteger(header.mode) && header.mode >= 0, `mode ${header.mode}`).toBe(true);
        expect(typeof header.name).toBe('string');
        expect(() => checksumMatches(block)).not.toThrow();
      }
    }));

  it(`parseNumber: ${RUNS_LABEL} mutated numeric fields`, () =>
    property(
      'parseNumber',
      fc.tuple(
        blocks(TAR_HEADERS),
        fc.constantFrom([100, 8], [108, 8], [124, 12], [136, 12], [148, 8], [0, 512], [500, 12]),
      ),
      async ([block, [start, length]]) => {
        const outcome = await typedOutcome(
          'parseNumber',
          () => describeValue(block),
          () => parseNumber(block, start!, length!),
          archiveError,
        );
        if (outcome.ok && outcome.value !== undefined) {
          expect(Number.isSafeInteger(outcome.value) && outcome.value >= 0, `number ${outcome.value}`).toBe(
            true,
          );
        }
      },
    ));

  it(`parsePaxRecords, parsePaxSize, parseLongName: ${RUNS_LABEL} mutated records`, () =>
    property('parsePaxRecords/parsePaxSize/parseLongName', blocks(PAX), async (data) => {
      const records = await typedOutcome(
        'parsePaxRecords',
        () => describeValue(data),
        () => parsePaxRecords(data),
        archiveError,
      );
      if (records.ok) {
        const size = records.value.get('size');
        if (size !== undefined) {
          const parsed = await typedOutcome(
            'parsePaxSize',
            () => describeValue(size),
            () => parsePaxSize(size),
            archiveError,
          );
          if (parsed.ok) expect(Number.isSafeInteger(parsed.value) && parsed.value >= 0).toBe(true);
        }
      }
      await typedOutcome(
        'parseLongName',
        () => describeValue(data),
        () => parseLongName(data),
        archiveError,
      );
    }));

  it(`normaliseEntryPath: ${RUNS_LABEL} mutated entry names never escape`, () =>
    property(
      'normaliseEntryPath',
      fc.oneof(
        fromSeeds(['main.py', 'lib/a.py', 'dir/', './x/../y', 'a/b/c.txt', 'C:\\x', '/abs'], mutatedText),
        fc.string({ unit: 'binary', maxLength: 60 }),
      ),
      async (name) => {
        // One policy for tar and zip (src/node/archive/entry-path.ts re-exports it).
        const outcome = await typedOutcome(
          'normaliseEntryPath',
          () => describeValue(name),
          () => normaliseEntryPath(name),
          archiveError,
        );
        if (!outcome.ok) return;
        // The documented refusal: no component that could leave the destination.
        const described = JSON.stringify(outcome.value);
        for (const segment of outcome.value.segments) {
          expect(['', '.', '..'], described).not.toContain(segment);
          expect(segment, described).not.toMatch(/[/\\\0]/);
        }
        // Nor a drive letter in front (C:x resolves against another directory on Windows), also
        // when it only appears once `./` is dropped (`./c:x` is written as `c:x`).
        expect(outcome.value.segments[0] ?? '', described).not.toMatch(/^[A-Za-z]:/);
      },
    ));

  it(`insighIoPackage.readTar / readPackage / unpackPackage: ${RUNS_LABEL} mutated tars and packages`, () =>
    property(
      'insighIoPackage.readTar/readPackage',
      fc.oneof(
        fromSeeds(TARS, mutatedBytes).map((bytes) => ['tar', bytes] as const),
        fromSeeds(
          TARS.map((bytes) => insighioPackage(bytes)),
          mutatedBytes,
        ).map((bytes) => ['package', bytes] as const),
        fromSeeds(
          TARS.map((bytes) => gzip(bytes)),
          mutatedBytes,
        ).map((bytes) => ['package', bytes] as const),
      ),
      async ([kind, bytes]) => {
        if (kind === 'tar') {
          await typedOutcome(
            'insighIoPackage.readTar',
            () => describeValue(bytes),
            () => insighIoPackage.readTar(bytes),
          );
        } else {
          await typedOutcome(
            'insighIoPackage.readPackage',
            () => describeValue(bytes),
            () => insighIoPackage.readPackage(bytes),
          );
          await typedOutcome(
            'insighIoPackage.detectPackageFormat',
            () => describeValue(bytes),
            () => insighIoPackage.detectPackageFormat(bytes),
          );
        }
        expect(() => sniffArchiveFormat(bytes.subarray(0, 512))).not.toThrow();
        expect(() => isInsighioPackage(bytes.subarray(0, 512))).not.toThrow();
      },
    ));

  it(`readZipDirectory: ${RUNS_LABEL} mutated zip files`, () =>
    property('readZipDirectory', fromSeeds(ZIPS, mutatedBytes), async (bytes) => {
      const outcome = await typedOutcome(
        'readZipDirectory',
        () => describeValue(bytes),
        () => readZipDirectory(memoryHandle(bytes) as never, bytes.length, 100, undefined),
        archiveError,
      );
      if (outcome.ok) {
        for (const entry of outcome.value.entries) {
          const described = describeValue(entry);
          expect(typeof entry.name, described).toBe('string');
        }
      }
    }));
});

// ---------------------------------------------------------------------------------------------
// HTTP/1 and HTTP headers

const HEADS = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: "abc"\r\n\r\nhello',
  'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/10\r\nContent-Length: 5\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n',
  'HTTP/1.0 302 Found\nLocation: https://example.com/a\n\n',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until close',
];

describe('HTTP/1 response parser', () => {
  it(`parseResponseHead + bodyFraming + BodyDecoder: ${RUNS_LABEL} mutated responses`, () =>
    property(
      'http1 response',
      fc.tuple(
        fc.oneof(
          { weight: 9, arbitrary: fromSeeds(HEADS, mutatedText).map(latin1) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }) },
        ),
        fc.constantFrom('GET', 'HEAD'),
        fc.array(fc.nat(), { maxLength: 4 }),
      ),
      async ([bytes, method, cuts]) => {
        const head = await typedOutcome(
          'parseResponseHead',
          () => describeValue(bytes),
          () => parseResponseHead(bytes),
          httpError,
        );
        if (!head.ok || head.value === undefined) return;
        expect(head.value.status).toBeGreaterThanOrEqual(100);
        expect(head.value.length).toBeLessThanOrEqual(bytes.length);
        const framing = await typedOutcome(
          'bodyFraming',
          () => describeValue(bytes),
          () => bodyFraming(head.value!, method),
          httpError,
        );
        if (!framing.ok) return;
        const body = bytes.subarray(head.value.length);
        const decoder = new BodyDecoder(framing.value);
        const points = [...new Set(cuts.map((cut) => cut % (body.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        let received = 0;
        await typedOutcome(
          'BodyDecoder',
          () => describeValue(bytes),
          () => {
            for (const point of [...points, body.length]) {
              decoder.push(body.subarray(from, point), (chunk) => {
                received += chunk.length;
              });
              from = point;
            }
            decoder.end();
          },
          httpError,
        );
        expect(received).toBeLessThanOrEqual(body.length);
      },
    ));

  it(`parseContentRange, parseContentLength, parseRetryAfter: ${RUNS_LABEL} mutated header values never throw`, () =>
    property(
      'transport header parsers',
      fc.oneof(
        fromSeeds(
          ['bytes 0-4/10', 'bytes 100-199/*', '12345', '0', '120', 'Wed, 21 Oct 2026 07:28:00 GMT'],
          mutatedText,
        ),
        fc.string({ unit: 'binary', maxLength: 40 }),
      ),
      (value) => {
        const range = parseContentRange(value);
        if (range !== undefined) {
          expect(Number.isSafeInteger(range.start) && range.start >= 0, describeValue(range)).toBe(true);
        }
        const length = parseContentLength(value);
        if (length !== undefined) expect(Number.isSafeInteger(length) && length >= 0, `${length}`).toBe(true);
        const delay = parseRetryAfter(value, Date.UTC(2026, 0, 1));
        if (delay !== undefined) expect(Number.isFinite(delay) && delay >= 0, `${delay}`).toBe(true);
      },
    ));
});

// ---------------------------------------------------------------------------------------------
// URLs and the documented refusals

describe('URLs: data: decoding, and the refusal of other schemes', () => {
  it(`decodeDataUrl: ${RUNS_LABEL} mutated data: URLs decode within maxBytes or are refused typed`, () =>
    property(
      'decodeDataUrl',
      fc.tuple(
        fc.oneof(
          fromSeeds(
            [
              'data:,hello',
              'data:text/plain;base64,aGVsbG8=',
              'data:application/octet-stream;base64,AAEC',
              'data:,%41%42',
            ],
            mutatedText,
          ),
          hostile.filter((value): value is string => typeof value === 'string'),
        ),
        fc.integer({ min: 0, max: 16 }),
      ),
      async ([url, maxBytes]) => {
        const outcome = await typedOutcome(
          'decodeDataUrl',
          () => describeValue(url),
          () => decodeDataUrl(url, maxBytes, 'data:…'),
        );
        // The documented refusal: never more than maxBytes.
        if (outcome.ok) expect(outcome.value.length).toBeLessThanOrEqual(maxBytes);
      },
    ));

  const forbiddenScheme = fc
    .stringMatching(/^[a-z][a-z0-9+.-]{0,9}$/)
    .filter((scheme) => !['http', 'https', 'data'].includes(scheme.toLowerCase()));
  const forbiddenUrl = fc
    .tuple(
      forbiddenScheme,
      fc.constantFrom('//example.com/a.bin', '///etc/passwd', 'alert(1)', '', '//user:pw@host/x?token=y'),
      fc.boolean(),
    )
    .map(([scheme, rest, upper]) => `${upper ? scheme.toUpperCase() : scheme}:${rest}`);

  it(`parseManifest refuses ${RUNS_LABEL} artifact URLs of schemes other than https, http and data`, () =>
    property('parseManifest refuses other schemes', forbiddenUrl, async (url) => {
      const outcome = await typedOutcome(
        'parseManifest',
        () => url,
        () => parseManifest({ id: 'u', version: '1', artifacts: [{ url, target: 'file' }] }),
      );
      expect(outcome.ok, `${url} was accepted`).toBe(false);
      expect(isOtaError(!outcome.ok && outcome.error, 'MANIFEST_INVALID')).toBe(true);
    }));

  it(`downloadArtifact refuses ${RUNS_LABEL} URLs of other schemes before any request`, () =>
    property('downloadArtifact refuses other schemes', forbiddenUrl, async (url) => {
      let requests = 0;
      const outcome = await typedOutcome(
        'downloadArtifact',
        () => url,
        () =>
          downloadArtifact({
            url,
            sink: writableStreamSink(new WritableStream()),
            retry: { attempts: 1 },
            fetch: (async () => {
              requests += 1;
              return new Response('x');
            }) as typeof fetch,
          }),
      );
      expect(outcome.ok, `${url} was fetched`).toBe(false);
      expect(requests).toBe(0);
    }));

  it(`parseManifest: ${RUNS_LABEL} mutated manifests validate or are refused, and never carry a refused scheme`, () =>
    property(
      'parseManifest mutated',
      fromSeeds(
        [
          {
            id: 'u1',
            version: '1.0.0',
            artifacts: [
              {
                url: 'https://cdn.example.test/a.bin',
                size: 10,
                sha256: 'ab'.repeat(32),
                md5: 'cd'.repeat(16),
                target: 'firmware',
                name: 'a',
              },
              { url: 'data:,x', target: 'config' },
            ],
            compatibility: { deviceTypes: ['gw'], deviceIds: ['d1'], fromVersions: ['0.9'] },
            provides: { 'rootfs.version': '1' },
            depends: { 'rootfs.version': ['0.9', '1'] },
            expiresAt: '2030-01-01T00:00:00Z',
            minVersion: '0.5',
            signature: {
              canonicalization: 'otakit-json-v1',
              signatures: [{ keyId: 'k1', algorithm: 'ed25519', value: `${'A'.repeat(86)}==` }],
            },
            extensions: { degu: { version: 3 } },
          } as unknown,
        ],
        mutatedJson,
      ),
      async (input) => {
        const outcome = await typedOutcome(
          'parseManifest',
          () => describeValue(input),
          () => parseManifest(input),
        );
        if (outcome.ok) {
          expect(ManifestSchema.safeParse(outcome.value).success).toBe(true);
          for (const artifact of outcome.value.artifacts)
            expect(isArtifactUrl(artifact.url), artifact.url).toBe(true);
        }
      },
    ));

  it(`decodeJson: ${RUNS_LABEL} inputs over maxBytes are refused, others parse or are refused typed`, () =>
    property(
      'decodeJson',
      fc.tuple(
        fc.oneof(
          hostile,
          fc.jsonValue().map((value) => JSON.stringify(value)),
        ),
        fc.integer({ min: 0, max: 64 }),
      ),
      async ([input, maxBytes]) => {
        const outcome = await typedOutcome(
          'decodeJson',
          () => describeValue(input),
          () => decodeJson(input, { what: 'fuzz', maxBytes }),
        );
        const size =
          typeof input === 'string'
            ? encode(input).length
            : input instanceof Uint8Array
              ? input.length
              : undefined;
        if (size !== undefined && size > maxBytes)
          expect(outcome.ok, `${size} bytes over ${maxBytes} accepted`).toBe(false);
      },
    ));
});

// ---------------------------------------------------------------------------------------------
// The shadow service (the AWS IoT shadow model the cloud side runs)

const SHADOW_REQUESTS = [
  JSON.stringify({
    state: { desired: { script_user: 'https://x/a.py', script_user_ver: 'ab'.repeat(16) } },
    clientToken: 'tok-1',
  }),
  JSON.stringify({
    state: { reported: { script_user_ver: 'ab'.repeat(16), firmware_ver: '1.0' } },
    version: 3,
  }),
  JSON.stringify({ state: { desired: null } }),
  JSON.stringify({ state: { desired: { a: { b: { c: [1, 2, { d: null }] } } } } }),
  JSON.stringify({ clientToken: 'x' }),
];

describe('shadow service documents', () => {
  it(`checkRequest, applyUpdate, readClientToken, getShadow: ${RUNS_LABEL} mutated requests answer or reject, never throw`, () =>
    property(
      'shadow service',
      fc.tuple(
        fc.oneof(
          { weight: 8, arbitrary: fromSeeds(SHADOW_REQUESTS, mutatedPayload) },
          { weight: 1, arbitrary: fromSeeds(SHADOW_REQUESTS, mutatedPayload).map(encode) },
          { weight: 1, arbitrary: hostile },
        ),
        fc.constantFrom(...SHADOW_REQUESTS),
      ),
      async ([payload, first]) => {
        const options = { timestamp: 1_700_000_000 };
        const created = applyUpdate(undefined, first, options);
        const stored = created.ok ? created.shadow : undefined;
        const checked = await typedOutcome(
          'checkRequest',
          () => describeValue(payload),
          () => checkRequest(payload, options),
        );
        expect(checked.ok, 'checkRequest never throws').toBe(true);
        const applied = await typedOutcome(
          'applyUpdate',
          () => describeValue(payload),
          () => applyUpdate(stored, payload, options),
        );
        expect(applied.ok, 'applyUpdate never throws').toBe(true);
        if (applied.ok && applied.value.ok) {
          const got = getShadow(applied.value.shadow, { thingName: 'thing-1' }, options);
          expect(got.ok).toBe(true);
          expect(() => JSON.stringify(applied.value)).not.toThrow();
        } else if (applied.ok && !applied.value.ok) {
          expect(typeof applied.value.error.code).toBe('number');
          expect(applied.value.error.message.length).toBeGreaterThan(0);
        }
        if (typeof payload === 'string' || payload instanceof Uint8Array) {
          const token = await typedOutcome(
            'readClientToken',
            () => describeValue(payload),
            () => readClientToken(payload, options),
          );
          expect(token.ok, 'readClientToken never throws').toBe(true);
        }
      },
    ));
});

// ---------------------------------------------------------------------------------------------
// What the cloud-side servers parse from requests: topics, paths, credentials

describe('cloud-side request parsing', () => {
  it(`topics, request paths and credentials: ${RUNS_LABEL} mutated values`, () =>
    property(
      'server request parsing',
      fc.oneof(
        fromSeeds(
          [
            'v1/devices/me/attributes/request/7',
            'v1/devices/me/telemetry',
            'v2/fw/request/1/chunk/0',
            'v1/devices/me/attributes/response/+',
            '/sample/version',
            '/project/v1.0.1_main.py?x=1',
            'Basic dXNlcjpwYXNz',
            'Bearer thing-key',
            'Thing thing-key',
            '$aws/things/t/shadow/update',
          ],
          mutatedText,
        ),
        fc.string({ unit: 'binary', maxLength: 60 }),
      ),
      async (value) => {
        expect(() => mayDeviceSubscribe(value)).not.toThrow();
        expect(() => mayDevicePublish(value)).not.toThrow();
        const id = attributeRequestId(value);
        if (id !== undefined) expect(id.length).toBeGreaterThan(0);
        await typedOutcome(
          'requestSegments',
          () => describeValue(value),
          () => requestSegments(value),
          (error) => error instanceof RefusedPathError,
        );
        const segments = (() => {
          try {
            return requestSegments(value);
          } catch {
            return [];
          }
        })();
        // The documented refusal: a request path never names a parent or a hidden file.
        for (const segment of segments) expect(segment.startsWith('.'), segment).toBe(false);
        expect(() => parseBasic(value)).not.toThrow();
        expect(() => presentedKey(value, ['Bearer', 'Thing'])).not.toThrow();
        expect(() => topicMatches('v1/devices/me/+/request/#', value)).not.toThrow();
      },
    ));
});

// ---------------------------------------------------------------------------------------------
// Smaller parsers of network input on either side

describe('smaller network parsers', () => {
  it(`decodeFeedPage, readAttributeUpdate, parseSingleRange, decodeCp437, decodeBase64, resolveFileAddress: ${RUNS_LABEL} mutated inputs`, () =>
    property(
      'smaller parsers',
      fc.oneof(
        fromSeeds(
          [
            '{"fw_title":"f","fw_version":"1.2","fw_checksum":"ab","fw_checksum_algorithm":"SHA256"}',
            '{"deleted":["fw_title","fw_version"]}',
            '{"items":[{"timestamp":1526046488000000,"values":{"otau_in":"{}"}}],"next":null}',
            'bytes=0-99',
            'bytes=-5',
            'bytes=10-',
            'aGVsbG8gd29ybGQ=',
            'sample/version',
            'project/v1.0.1/main.py',
          ],
          mutatedPayload,
        ),
        hostile.filter((value): value is string => typeof value === 'string'),
      ),
      async (text) => {
        await typedOutcome(
          'decodeFeedPage',
          () => describeValue(text),
          () => decodeFeedPage(text),
        );
        await typedOutcome(
          'readAttributeUpdate',
          () => describeValue(text),
          () => readAttributeUpdate(text),
        );
        const range = parseSingleRange(text, 100);
        if (range !== null && range !== 'unsatisfiable') {
          expect(range.start >= 0 && range.start <= range.end && range.end < 100, describeValue(range)).toBe(
            true,
          );
        }
        expect(typeof decodeCp437(latin1(text))).toBe('string');
        const bytes = decodeBase64(text);
        if (bytes !== undefined) expect(bytes).toBeInstanceOf(Uint8Array);
        // The documented refusal: a file address never resolves outside its directory.
        const resolved = await typedOutcome(
          'resolveFileAddress',
          () => describeValue(text),
          () => resolveFileAddress('/srv/files', text),
        );
        if (resolved.ok) {
          expect(resolved.value.startsWith('/srv/files/'), resolved.value).toBe(true);
          expect(relative('/srv/files', resolved.value).split(sep)).not.toContain('..');
        }
      },
    ));
});
