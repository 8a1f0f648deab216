import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOtaError, type OtaErrorCode, UPDATE_STATES } from '../../../src/index.js';
import { exositeProvisioning } from '../../../src/node/index.js';
import * as exosite from '../../../src/protocols/exosite/index.js';

const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) };

/** Runs `run`; passes when it returns or throws an otakit error with one of `codes`, never anything else. */
function typedOnly(run: () => unknown, codes: OtaErrorCode[] = ['MANIFEST_INVALID']): void {
  try {
    run();
  } catch (error) {
    if (!isOtaError(error) || !codes.includes(error.code)) throw error;
  }
}

// Inputs straight off a wire: any text, any bytes, any JSON (as text and as a value), and
// near-misses built from valid shapes.
const manifestish = fc.record(
  {
    version: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    name: fc.oneof(fc.string(), fc.constant(undefined)),
    description: fc.oneof(fc.string(), fc.boolean()),
    type: fc.constantFrom('URL_LIST', 'FILE', 'JSON', 'ZIP', '', 'url_list'),
    payload: fc.oneof(fc.array(fc.string()), fc.string(), fc.jsonValue(), fc.webUrl()),
  },
  { requiredKeys: [] },
);
const wire = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.uint8Array({ maxLength: 512 }),
  fc.jsonValue(),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  manifestish,
  manifestish.map((value) => JSON.stringify(value)),
  manifestish.map((value) => JSON.stringify(JSON.stringify(value))),
);

const alias = fc.stringMatching(/^[A-Za-z0-9_.-]{1,24}$/);
const contentId = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_ .()-]{0,40}$/);
const payloadItem = fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), contentId);
const text = (max: number) => fc.string({ unit: 'grapheme', maxLength: max });
// Payloads with a "__proto__" key are refused (a typed error, tested in http.test.ts), not valid.
const jsonObject = fc
  .dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 })
  .filter((payload) => !JSON.stringify(payload).includes('"__proto__"'));
const common = {
  version: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((v) => v.length <= 256),
  name: text(40),
};
const validManifest = fc.oneof(
  fc.record(
    {
      ...common,
      description: text(60),
      type: fc.constant('URL_LIST' as const),
      payload: fc.array(payloadItem, { minLength: 1, maxLength: 5 }),
    },
    { requiredKeys: ['version', 'name', 'type', 'payload'] },
  ),
  fc.record(
    { ...common, description: text(60), type: fc.constant('FILE' as const), payload: payloadItem },
    { requiredKeys: ['version', 'name', 'type', 'payload'] },
  ),
  fc.record(
    { ...common, description: text(60), type: fc.constant('JSON' as const), payload: jsonObject },
    { requiredKeys: ['version', 'name', 'type', 'payload'] },
  ),
) as fc.Arbitrary<exosite.OtauManifest>; // fast-check's JsonValue is zod's JSONType with readonly arrays
// JSON has no -0 and no undefined: compare the manifest as it survives JSON.
const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const validStatus = fc.record(
  { version: text(30), status: fc.constantFrom(...exosite.OTAU_STATUSES), message: text(80) },
  { requiredKeys: ['version', 'status'] },
);

describe('decoders never crash: arbitrary input gives a value or a typed error', () => {
  it('decodeManifest (hardened and strictCompat)', () => {
    fc.assert(
      fc.property(wire, fc.boolean(), (input, strictCompat) => {
        typedOnly(() => exosite.decodeManifest(input, { strictCompat }));
      }),
      RUNS,
    );
  });

  it('decodeStatus', () => {
    fc.assert(
      fc.property(wire, (input) => typedOnly(() => exosite.decodeStatus(input))),
      RUNS,
    );
  });

  it('decodeForm', () => {
    const formish = fc.array(
      fc.tuple(
        fc.oneof(alias, fc.string()),
        fc.oneof(fc.string(), fc.stringMatching(/^(%[0-9A-Fa-f]{0,2}|[+&=a-z])*$/)),
      ),
      { maxLength: 8 },
    );
    const bodies = fc.oneof(
      fc.string(),
      fc.uint8Array({ maxLength: 256 }),
      formish.map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&')),
    );
    fc.assert(
      fc.property(bodies, (body) => typedOnly(() => exosite.decodeForm(body))),
      RUNS,
    );
  });

  it('decodeBatch', () => {
    fc.assert(
      fc.property(wire, (input) => typedOnly(() => exosite.decodeBatch(input))),
      RUNS,
    );
  });

  it('parseResourceTopic', () => {
    const topics = fc.oneof(
      fc.string(),
      fc.tuple(fc.string(), fc.string()).map(([a, b]) => `$resource/${a}/${b}`),
      fc.string().map((a) => `$resource/${a}`),
    );
    fc.assert(
      fc.property(topics, (topic) => {
        typedOnly(() => exosite.parseResourceTopic(topic));
        const parsed = exosite.safeParseResourceTopic(topic);
        if (parsed !== undefined) expect(exosite.isAlias(parsed.alias)).toBe(true);
      }),
      RUNS,
    );
  });

  it('HTTP response decoders', () => {
    const status = fc.oneof(
      fc.constantFrom(200, 204, 304, 401, 404, 409, 500),
      fc.integer({ min: 100, max: 599 }),
    );
    const body = fc.oneof(fc.string(), fc.uint8Array({ maxLength: 256 }), fc.constant(undefined));
    fc.assert(
      fc.property(status, body, (code, content) => {
        const response = content === undefined ? { status: code } : { status: code, body: content };
        const codes: OtaErrorCode[] = ['MANIFEST_INVALID', 'TRANSPORT'];
        typedOnly(() => exosite.decodeReadResponse(response), codes);
        typedOnly(() => exosite.decodeLongPollResponse(response), codes);
        typedOnly(() => exositeProvisioning.decodeActivateResponse(response), codes);
        typedOnly(() => exositeProvisioning.decodeContentInfo(response), codes);
        typedOnly(() => exositeProvisioning.decodeContentList(response), codes);
        typedOnly(() => exositeProvisioning.decodeTimestampResponse(response), codes);
      }),
      RUNS,
    );
  });

  it('classifyPayloadItem and manifestVersionOf', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl(), fc.string({ unit: 'binary' })), (item) => {
        typedOnly(() => exosite.classifyPayloadItem(item));
        expect(exosite.isPayloadItem(item)).toBe(
          (() => {
            try {
              exosite.classifyPayloadItem(item);
              return true;
            } catch {
              return false;
            }
          })(),
        );
      }),
      RUNS,
    );
    fc.assert(
      fc.property(wire, (input) => {
        const version = exosite.manifestVersionOf(input);
        expect(version === null || typeof version === 'string').toBe(true);
      }),
      RUNS,
    );
  });

  it('fromCanonical on arbitrary values', () => {
    const canonicalish = fc.record(
      {
        id: fc.string(),
        version: fc.string(),
        artifacts: fc.array(
          fc.record({ url: fc.oneof(fc.string(), fc.webUrl()), target: fc.constantFrom('file', 'x') }),
        ),
        extensions: fc.oneof(fc.jsonValue(), fc.record({ exosite: manifestish })),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(canonicalish, fc.jsonValue()), (input) => {
        typedOnly(() => exosite.fromCanonical(input as never));
      }),
      RUNS,
    );
  });
});

describe('round trips of generated valid values', () => {
  it('encodeManifest → decodeManifest, also wrapped in a form body and JSON-encoded twice', () => {
    fc.assert(
      fc.property(validManifest, (manifest) => {
        const expected = viaJson(manifest);
        const value = exosite.encodeManifest(manifest);
        expect(exosite.decodeManifest(value)).toEqual(expected);
        expect(exosite.decodeManifest(new TextEncoder().encode(value))).toEqual(expected);
        expect(exosite.decodeManifest(JSON.stringify(value))).toEqual(expected);
        const body = exosite.encodeForm({ config_otau: value });
        const polled = exosite.decodeLongPollResponse({ status: 200, body });
        if (polled.kind !== 'changed') throw new Error('expected a change');
        expect(polled.value).toBe(value);
        expect(exosite.decodeManifest(polled.value)).toEqual(expected);
        // The acknowledgement writes back exactly what was read.
        expect(exosite.acknowledgeRequest({ token: 't', value: polled.value }).body).toBe(body);
      }),
      RUNS,
    );
  });

  it('encodeStatus → decodeStatus (and through $resource.batch)', () => {
    fc.assert(
      fc.property(validStatus, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (status, timestamp) => {
        const value = exosite.encodeStatus(status);
        const expected = { ...status, message: status.message ?? '' };
        expect(exosite.decodeStatus(value)).toEqual(expected);
        const [entry] = exosite.decodeBatch(exosite.encodeBatch([{ timestamp, values: { otau_in: value } }]));
        expect(entry?.timestamp).toBe(timestamp);
        expect(exosite.decodeStatus(entry!.values.otau_in!)).toEqual(expected);
      }),
      RUNS,
    );
  });

  it('encodeForm → decodeForm, byte-identical to URLSearchParams', () => {
    const values = fc.dictionary(alias, fc.string({ unit: 'binary', maxLength: 60 }), {
      minKeys: 1,
      maxKeys: 10,
    });
    fc.assert(
      fc.property(values, (record) => {
        const body = exosite.encodeForm(record);
        expect(body).toBe(new URLSearchParams(record).toString());
        expect(exosite.decodeForm(body)).toEqual(record);
      }),
      RUNS,
    );
  });

  it('resourceChangeTopic → parseResourceTopic', () => {
    fc.assert(
      fc.property(alias, fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (name, timestamp) => {
        expect(exosite.parseResourceTopic(exosite.resourceChangeTopic(name, timestamp))).toEqual({
          alias: name,
          timestamp,
        });
        expect(exosite.parseResourceTopic(exosite.resourceTopic(name))).toEqual({ alias: name });
      }),
      RUNS,
    );
  });

  it('toCanonical → fromCanonical gives back the manifest, with and without a content locator', () => {
    const locator = fc.constantFrom(
      undefined,
      exosite.contentBaseUrl('d1zzd6dflnt50000'),
      'https://cdn.example/content/',
    );
    fc.assert(
      fc.property(validManifest, locator, (manifest, content) => {
        const valid = exosite.decodeManifest(JSON.stringify(manifest));
        const { value: canonical, lost } = exosite.toCanonical(
          valid,
          content === undefined ? {} : { content },
        );
        expect(lost.map((loss) => loss.field)).toEqual(['artifacts']);
        expect(exosite.fromCanonical(canonical)).toEqual({ value: valid, lost: [] });
      }),
      RUNS,
    );
  });

  it('canonical state → otau_in → canonical state follows statusMapping', () => {
    fc.assert(
      fc.property(fc.constantFrom(...UPDATE_STATES), text(20), (state, version) => {
        const status = exosite.statusFromCanonical({ state, version });
        if (status === null) {
          expect(exosite.statusMapping.fromCanonical[state]).toBeNull();
          return;
        }
        const back = exosite.statusToCanonical(exosite.decodeStatus(exosite.encodeStatus(status)));
        expect(back.state).toBe(
          exosite.statusMapping.toCanonical[exosite.statusMapping.fromCanonical[state]!],
        );
        expect(back.version).toBe(version === '' ? null : version);
      }),
      RUNS,
    );
  });
});
