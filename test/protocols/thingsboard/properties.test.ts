/** fast-check properties: every decoder fails only with a typed error; encoders round-trip. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOtaError, OTA_ERROR_CODES } from '../../../src/core/errors.js';
import { FAILURE_STATES, UPDATE_STATES } from '../../../src/core/states.js';
import * as thingsBoard from '../../../src/protocols/thingsboard/index.js';

const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) };

function typedOnly(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!isOtaError(error, 'MANIFEST_INVALID')) throw error;
  }
}

const wireInput = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.string({ maxLength: 300 }),
  fc.json(),
  fc.jsonValue(),
  fc.anything(),
);
const value = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue(),
);
const keys = fc.constantFrom(
  ...['title', 'version', 'size', 'checksum', 'checksum_algorithm', 'url', 'tag', 'state', 'error'].flatMap(
    (key) => [`fw_${key}`, `sw_${key}`, `current_fw_${key}`],
  ),
  'deleted',
  'ts',
  'values',
  'shared',
  'client',
);
const attributeLike = fc.dictionary(keys, value, { maxKeys: 8 });
const telemetryLike = fc.oneof(
  attributeLike,
  fc.record({ ts: fc.integer(), values: attributeLike }),
  fc.array(attributeLike),
);

const text = fc
  .string({ minLength: 1, maxLength: 40 })
  .filter((candidate) => ![...candidate].some((char) => char.charCodeAt(0) < 0x20 || char === '\u007f'));
const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const checksum = fc.constantFrom(...thingsBoard.CHECKSUM_ALGORITHM_NAMES).chain((algorithm) =>
  hex(thingsBoard.CHECKSUM_ALGORITHMS[algorithm]).map((digest) => ({
    checksumAlgorithm: algorithm,
    checksum: digest,
  })),
);
const packageArb = fc
  .record(
    {
      type: fc.constantFrom('firmware' as const, 'software' as const),
      title: text,
      version: text,
      tag: text,
    },
    { requiredKeys: ['type', 'title', 'version'] },
  )
  .chain((base) =>
    fc.oneof(
      fc.tuple(fc.nat(), checksum).map(([size, sum]) => ({ ...base, size, ...sum })),
      fc
        .record({ url: fc.webUrl(), size: fc.nat(), sum: checksum }, { requiredKeys: ['url'] })
        .map(({ sum, ...rest }) => ({ ...base, ...rest, ...(sum ?? {}) })),
    ),
  );

describe('ThingsBoard decoders never crash', () => {
  it('decodeAttributes', () => {
    fc.assert(
      fc.property(fc.oneof(wireInput, attributeLike), (input) =>
        typedOnly(() => thingsBoard.decodeAttributes(input)),
      ),
      RUNS,
    );
  });

  it('decodeAttributeResponse', () => {
    const response = fc.record({ shared: attributeLike, client: fc.jsonValue() }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(wireInput, response), (input) =>
        typedOnly(() => thingsBoard.decodeAttributeResponse(input)),
      ),
      RUNS,
    );
  });

  it('decodeTelemetry, then telemetryToStatus', () => {
    fc.assert(
      fc.property(
        fc.oneof(wireInput, telemetryLike),
        fc.constantFrom(null, ...UPDATE_STATES),
        (input, previous) =>
          typedOnly(() => {
            for (const entry of thingsBoard.decodeTelemetry(input)) {
              const status = thingsBoard.telemetryToStatus(entry.values, { previous });
              if (status?.state) expect(UPDATE_STATES).toContain(status.state);
            }
          }),
      ),
      RUNS,
    );
  });

  it('toCanonical (attributes in, manifest or typed error out)', () => {
    fc.assert(
      fc.property(
        fc.oneof(wireInput, attributeLike),
        fc.constantFrom('firmware' as const, 'software' as const),
        (input, type) => typedOnly(() => thingsBoard.toCanonical(input as never, { type })),
      ),
      RUNS,
    );
  });

  it('fromCanonical', () => {
    const manifestLike = fc.record({
      id: fc.string(),
      version: fc.string(),
      artifacts: fc.array(
        fc.record(
          {
            url: fc.oneof(fc.webUrl(), fc.string(), fc.constant('firmware?title=a&version=1')),
            target: fc.constantFrom('firmware', 'package', 'x'),
            name: fc.string(),
            size: fc.integer(),
            sha256: hex(64),
          },
          { requiredKeys: ['url', 'target'] },
        ),
        { maxLength: 2 },
      ),
      extensions: fc.option(fc.record({ thingsboard: fc.jsonValue() }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.oneof(manifestLike, fc.anything()), (input) =>
        typedOnly(() => thingsBoard.fromCanonical(input as never)),
      ),
      RUNS,
    );
  });

  it('topic and payload parsers return undefined rather than throw', () => {
    fc.assert(
      fc.property(fc.string(), fc.uint8Array({ maxLength: 16 }), (topic, payload) => {
        const chunk = thingsBoard.parseChunkTopic(topic);
        if (chunk) expect(chunk.requestId).toBeLessThanOrEqual(thingsBoard.LIMITS.maxTopicNumber);
        thingsBoard.parseAttributeResponseTopic(topic);
        thingsBoard.decodeChunkRequest(topic);
        thingsBoard.decodeChunkRequest(payload);
        expect(thingsBoard.parseFwError(topic).message).toBeTypeOf('string');
      }),
      RUNS,
    );
  });
});

describe('ThingsBoard decoders bound the nesting of what they accept', () => {
  // 8,000 levels in 48 KB fit the byte limits; JSON.stringify of such a value overflows the stack.
  // Each decoder gets the nesting where its schema takes free-form JSON.
  const cases = [
    [
      'decodeAttributes',
      (input: unknown) => thingsBoard.decodeAttributes(input),
      (inner: string) => `{"custom":${inner}}`,
    ],
    [
      'decodeAttributeResponse',
      (input: unknown) => thingsBoard.decodeAttributeResponse(input),
      (inner: string) => `{"client":{"custom":${inner}}}`,
    ],
    [
      'decodeTelemetry',
      (input: unknown) => thingsBoard.decodeTelemetry(input),
      (inner: string) => `{"temperature":${inner}}`,
    ],
  ] as const;
  const nestedText = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

  it.each(cases)(
    '%s refuses input nested 8,000 levels deep, as text, bytes and a value',
    (_name, decode, wrap) => {
      const text = wrap(nestedText(8000));
      expect(text.length).toBeLessThan(thingsBoard.LIMITS.attributesBytes);
      for (const input of [text, new TextEncoder().encode(text), JSON.parse(text) as unknown]) {
        let thrown: unknown;
        try {
          decode(input);
        } catch (error) {
          thrown = error;
        }
        expect(isOtaError(thrown, 'MANIFEST_INVALID')).toBe(true);
        expect((thrown as Error).message).toMatch(/nested at most \d+ levels/);
      }
    },
  );

  it.each(cases)('%s accepts shallow nesting, and what it returns serialises', (_name, decode, wrap) => {
    expect(JSON.stringify(decode(wrap(nestedText(8))))).toContain(nestedText(8));
    fc.assert(
      fc.property(fc.oneof(wireInput, telemetryLike, attributeLike), (input) => {
        let decoded: unknown;
        try {
          decoded = decode(input);
        } catch (error) {
          if (!isOtaError(error, 'MANIFEST_INVALID')) throw error;
          return;
        }
        expect(() => JSON.stringify(decoded)).not.toThrow();
      }),
      RUNS,
    );
  });
});

describe('ThingsBoard decoders refuse a valid package with one rule broken, naming the key', () => {
  // A stored package (no fw_url) with its size and checksum: the shape every rule applies to.
  const stored = packageArb.filter(
    (pkg) => !('url' in pkg && pkg.url !== undefined) && pkg.checksum !== undefined,
  );
  /** The key suffix to break, and its new value (`undefined`: the key is removed). */
  const breakages = fc.constantFrom<readonly [string, unknown]>(
    ['checksum', undefined],
    ['size', undefined],
    ['title', undefined],
    ['version', undefined],
    ['checksum_algorithm', undefined],
    ['checksum', 'f'.repeat(129)],
    ['checksum', 'not hex'],
    ['checksum_algorithm', 'SHA1024'],
    ['size', -1],
    ['title', ''],
    ['url', 'not a url'],
  );
  it('decodeAttributes → readPackage and toCanonical', () => {
    fc.assert(
      fc.property(stored, breakages, (pkg, [suffix, bad]) => {
        const prefix = pkg.type === 'firmware' ? 'fw' : 'sw';
        const attributes = { ...thingsBoard.packageToAttributes(pkg) } as Record<string, unknown>;
        expect(
          thingsBoard.readPackage(thingsBoard.decodeAttributes(JSON.stringify(attributes)), pkg.type),
        ).toEqual(pkg);
        const key = `${prefix}_${suffix}`;
        if (bad === undefined) Reflect.deleteProperty(attributes, key);
        else attributes[key] = bad;
        const wire = JSON.stringify(attributes);
        for (const decode of [
          () => thingsBoard.readPackage(thingsBoard.decodeAttributes(wire), pkg.type),
          () => thingsBoard.toCanonical(JSON.parse(wire) as never, { type: pkg.type }),
        ]) {
          let thrown: unknown;
          try {
            decode();
          } catch (error) {
            thrown = error;
          }
          expect(isOtaError(thrown, 'MANIFEST_INVALID'), `${key} broken, yet accepted`).toBe(true);
          expect((thrown as { issues: Array<{ path: string }> }).issues.map((issue) => issue.path)).toContain(
            key,
          );
        }
      }),
      RUNS,
    );
  });
});

describe('ThingsBoard round trips', () => {
  it('a package survives attributes → JSON bytes → decodeAttributes → readPackage', () => {
    fc.assert(
      fc.property(packageArb, (pkg) => {
        const wire = new TextEncoder().encode(JSON.stringify(thingsBoard.packageToAttributes(pkg)));
        expect(thingsBoard.readPackage(thingsBoard.decodeAttributes(wire), pkg.type)).toEqual(pkg);
      }),
      RUNS,
    );
  });

  it('attributes survive toCanonical → fromCanonical with nothing lost', () => {
    fc.assert(
      fc.property(packageArb, (pkg) => {
        const attributes = thingsBoard.packageToAttributes(pkg);
        const manifest = thingsBoard.toCanonical(attributes, { type: pkg.type }).value;
        expect(thingsBoard.fromCanonical(manifest)).toEqual({ value: attributes, lost: [] });
      }),
      RUNS,
    );
  });

  it('a status survives statusToTelemetry → JSON → decodeTelemetry → telemetryToStatus', () => {
    const error = fc.record({
      name: fc.constant('OtaError'),
      code: fc.constantFrom(...OTA_ERROR_CODES),
      message: fc.string({ maxLength: 200 }),
      retryable: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...UPDATE_STATES),
        fc.constantFrom(null, ...UPDATE_STATES),
        fc.option(text, { nil: null }),
        fc.option(error, { nil: undefined }),
        fc.constantFrom('firmware' as const, 'software' as const),
        (state, previous, version, err, type) => {
          const messages = thingsBoard.statusToTelemetry(
            { state, previous, version, error: err },
            { type, title: 't' },
          );
          const wire = thingsBoard.statusMapping.fromCanonical[state];
          expect(messages.length).toBe(
            (wire === null ? 0 : 1) + (state === 'installing' && previous === 'verifying' ? 1 : 0),
          );
          const last = messages.at(-1);
          if (!last || wire === null) return;
          const [entry] = thingsBoard.decodeTelemetry(JSON.stringify(last));
          const read = thingsBoard.telemetryToStatus(entry!.values, { type });
          expect(read?.fwState).toBe(wire);
          if (wire === 'FAILED') {
            expect(read?.state).toBe(state);
            if (err) expect(read?.error).toMatchObject({ code: err.code, message: err.message });
            expect((FAILURE_STATES as readonly string[]).includes(read!.state!)).toBe(true);
          } else {
            expect(read?.state).toBe(thingsBoard.statusMapping.toCanonical[wire]);
          }
          if (wire === 'UPDATED' && version !== null) expect(read?.current).toEqual({ title: 't', version });
        },
      ),
      RUNS,
    );
  });

  it('chunk and attribute topics round-trip', () => {
    const number = fc.integer({ min: 0, max: thingsBoard.LIMITS.maxTopicNumber });
    fc.assert(
      fc.property(
        number,
        number,
        fc.constantFrom('firmware' as const, 'software' as const),
        (requestId, chunk, type) => {
          expect(thingsBoard.parseChunkTopic(thingsBoard.chunkRequestTopic(requestId, chunk, type))).toEqual({
            type,
            direction: 'request',
            requestId,
            chunk,
          });
          const response = thingsBoard.attributeRequestTopic(requestId).replace('/request/', '/response/');
          expect(thingsBoard.parseAttributeResponseTopic(response)).toBe(requestId);
          expect(thingsBoard.decodeChunkRequest(thingsBoard.encodeChunkRequest(chunk))).toBe(chunk);
        },
      ),
      RUNS,
    );
  });
});
