/**
 * Property tests of `connhex.protocol`'s two decoders: whatever they are given, they decode or
 * throw a MANIFEST_INVALID otakit error (never a TypeError, SyntaxError or ZodError); what is
 * valid decodes to what it says; a valid message with one required field broken is refused,
 * naming the field; and no credential of the target ever appears in an error message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  connhex,
  type InboundMessage,
  isOtaError,
  STATUS_MAPPINGS,
  type UpdateStatus,
  UpdateStatusSchema,
} from '../../../src/index.js';
import { manifestError } from './support.js';

const { protocol } = connhex;
const KEY = 'thing-key-SECRET-5c1e';
const target: connhex.Target = { domain: 'example.com', initId: 'dev-42', key: KEY };
const RELEASE_URL = 'https://apis.example.com/iot/ota/dev-42';
const SUBJECT = 'heartbeat.ota.service';
const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) };

/** Runs `run`: it returns, or throws MANIFEST_INVALID without the key in its message. */
function decodesOrRefuses<T>(run: () => T): T | undefined {
  try {
    return run();
  } catch (error) {
    expect(isOtaError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
    expect((error as Error).message).not.toContain(KEY);
    return undefined;
  }
}

/** Like {@link manifestError}, also checking the key is not in the message. */
function refused(run: () => unknown) {
  const error = manifestError(run);
  expect(error.message).not.toContain(KEY);
  return error;
}

const decodeOrder = (message: unknown) =>
  protocol.device.decodeOrder(message as InboundMessage, {
    target,
    current: { id: '0.0.1', version: '0.0.1' },
  });
const decodeStatus = (message: unknown, previous: UpdateStatus['state'] | null = null) =>
  protocol.cloud.decodeStatus(message as InboundMessage, {
    target,
    machineId: 'dev-42',
    previous: previous === null ? null : { state: previous, update: { id: '0.0.3', version: '0.0.3' } },
  });

/** Inputs that have broken decoders elsewhere: nothing, numbers, prototypes, depth, size. */
const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
const huge = `{"status":"checking","error":"${'x'.repeat(10 * 1024 * 1024)}"}`;
const ADVERSARIAL: unknown[] = [
  null,
  undefined,
  0,
  Number.NaN,
  '',
  '__proto__',
  [],
  { __proto__: { address: SUBJECT } },
  JSON.parse('{"__proto__":{"address":"heartbeat.ota.service"},"payload":""}'),
  { address: SUBJECT, payload: deep },
  { address: SUBJECT, payload: huge },
  { address: SUBJECT, payload: new TextEncoder().encode(huge) },
  { address: SUBJECT, payload: JSON.parse(`${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`) },
  { address: RELEASE_URL, payload: '', status: 200, headers: { version: 'x'.repeat(1_000_000) } },
  { address: RELEASE_URL, payload: '', status: 200, headers: JSON.parse('{"__proto__":"1","version":"2"}') },
  { address: `${RELEASE_URL}?token=${KEY}`, payload: '', status: 200, headers: { version: '1' } },
  { address: 'x'.repeat(100_000), payload: '', status: 200 },
  { address: RELEASE_URL, payload: '', status: 200.5 },
  { address: RELEASE_URL, payload: 7, status: 200 },
  { address: RELEASE_URL, payload: '', status: 200, headers: { version: 1 } },
  { address: RELEASE_URL, payload: '', status: 200, headers: [['version', '1']] },
];

describe('decodeOrder on anything', () => {
  it('adversarial values decode or are refused as MANIFEST_INVALID', () => {
    for (const value of ADVERSARIAL) decodesOrRefuses(() => decodeOrder(value));
  });

  it('arbitrary values (300 runs)', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        decodesOrRefuses(() => decodeOrder(value));
      }),
      RUNS,
    );
  });

  it('arbitrary payloads and headers on a 200 (300 runs)', () => {
    const name = fc.constantFrom(
      'version',
      'content-length',
      'content-digest',
      'min-version',
      'etag',
      'x-other',
    );
    const value = fc.oneof(
      fc.string(),
      fc.constantFrom('"0.0.3"', '0.0.3', '4096', 'sha256=zz', `Thing ${KEY}`, '"\\"', ''),
    );
    const payload = fc.oneof(
      fc.string(),
      fc.uint8Array(),
      fc.jsonValue().map((json) => JSON.stringify(json)),
    );
    fc.assert(
      fc.property(payload, fc.dictionary(name, value), (body, headers) => {
        const result = decodesOrRefuses(() =>
          decodeOrder({ address: RELEASE_URL, payload: body, status: 200, headers }),
        );
        if (result?.value) expect(result.value.artifacts[0]!.url).toBe(RELEASE_URL);
      }),
      RUNS,
    );
  });
});

describe('decodeOrder: valid orders decode, one broken field is refused', () => {
  const release = fc.record(
    {
      version: fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,12}[\x21-\x7e])?$/),
      size: fc.nat(),
      sha256: fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((bytes) => Buffer.from(bytes).toString('hex')),
    },
    { requiredKeys: ['version'] },
  );
  const form = fc.constantFrom<connhex.ContentDigestForm>('rfc9530', 'sha256-hex', 'sha256-base64');
  const headersOf = (value: connhex.ReleaseMetadata, digestForm: connhex.ContentDigestForm) =>
    Object.fromEntries(
      Object.entries(connhex.releaseHeaders(value, { digestForm })).map(([k, v]) => [k.toLowerCase(), v]),
    );

  it('a HEAD response with a release gives its version, size and digest (300 runs)', () => {
    fc.assert(
      fc.property(release, form, (value, digestForm) => {
        fc.pre(value.version !== '0.0.1'); // the installed version is no order
        const { value: manifest } = decodeOrder({
          address: RELEASE_URL,
          payload: '',
          status: 200,
          headers: headersOf(value, digestForm),
        });
        expect(manifest).toMatchObject({ id: value.version, version: value.version });
        const { version: _version, ...measured } = value;
        expect(manifest!.artifacts).toEqual([{ url: RELEASE_URL, target: 'package', ...measured }]);
      }),
      RUNS,
    );
  });

  type Break = [field: string, breakIt: (message: Record<string, unknown>) => Record<string, unknown>];
  const withHeader = (name: string, value: string | undefined) => (message: Record<string, unknown>) => {
    const headers = { ...(message.headers as Record<string, string>) };
    if (value === undefined) delete headers[name];
    else headers[name] = value;
    return { ...message, headers };
  };
  const BREAKS: Break[] = [
    ['Version', withHeader('version', undefined)],
    ['Version', withHeader('version', '')],
    ['Version', withHeader('version', '"0.0.3')],
    ['Version', withHeader('version', '0.0.3\u0007')],
    ['Version', withHeader('version', `"${'9'.repeat(300)}"`)],
    ['Content-Length', withHeader('content-length', '-1')],
    ['Content-Length', withHeader('content-length', '4096, 4097')],
    ['Content-Length', withHeader('content-length', 'lots')],
    ['Content-Digest', withHeader('content-digest', 'sha256=zz')],
    ['Content-Digest', withHeader('content-digest', 'sha-256=:AAAA:')],
    ['Content-Digest', withHeader('content-digest', '')],
    ['Min-Version', withHeader('min-version', '')],
    ['status', ({ status: _status, ...message }) => message],
    ['address', (message) => ({ ...message, address: 'https://apis.example.com/iot/ota' })],
    ['address', (message) => ({ ...message, address: RELEASE_URL.replace('https', 'http') })],
    ['address', (message) => ({ ...message, address: `${RELEASE_URL}?thing_key=${KEY}` })],
    ['payload', (message) => ({ ...message, payload: null })],
    ['headers', (message) => ({ ...message, headers: { version: ['0.0.3'] } })],
  ];

  it('each broken field is refused, named, without the key (300 runs)', () => {
    fc.assert(
      fc.property(release, form, fc.constantFrom(...BREAKS), (value, digestForm, [field, breakIt]) => {
        const valid = {
          address: RELEASE_URL,
          payload: '',
          status: 200,
          headers: headersOf(value, digestForm),
        };
        const error = refused(() => decodeOrder(breakIt(valid)));
        expect(error.message).toContain(field);
      }),
      RUNS,
    );
  });
});

describe('decodeStatus on anything', () => {
  /** Null (not a status), a valid UpdateStatus, or a refusal. */
  function checked(message: unknown, previous: UpdateStatus['state'] | null = null) {
    const status = decodesOrRefuses(() => decodeStatus(message, previous));
    if (status) expect(UpdateStatusSchema.safeParse(status).success, JSON.stringify(status)).toBe(true);
    return status;
  }

  it('adversarial values decode or are refused as MANIFEST_INVALID', () => {
    for (const value of ADVERSARIAL) checked(value);
    expect(() => decodeStatus({ address: SUBJECT, payload: huge })).toThrow(/at most 16384 bytes/);
    expect(() => decodeStatus({ address: SUBJECT, payload: deep })).toThrow(/MANIFEST|Invalid/);
  });

  it('arbitrary values, payloads and JSON on the status subject (300 runs)', () => {
    const payload = fc.oneof(
      fc.anything(),
      fc.string(),
      fc.uint8Array(),
      fc.jsonValue().map((json) => JSON.stringify(json)),
      fc
        .record(
          {
            status: fc.oneof(fc.constantFrom(...connhex.OTA_STATUSES), fc.string()),
            current_version: fc.oneof(fc.string(), fc.integer()),
            latest_version: fc.string(),
            error: fc.oneof(fc.string(), fc.constant(`failed with Thing ${KEY}`)),
            last_checked: fc.oneof(fc.string(), fc.constant('2025-03-01T10:00:00Z')),
          },
          { requiredKeys: [] },
        )
        .map((json) => JSON.stringify(json)),
    );
    const previous = fc.constantFrom(
      null,
      'idle',
      'checking',
      'downloading',
      'installing',
      'committed' as const,
    );
    fc.assert(
      fc.property(payload, previous, (body, state) => {
        checked({ address: SUBJECT, payload: body }, state);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.anything(), (value) => {
        checked(value);
      }),
      RUNS,
    );
  });
});

describe('decodeStatus: valid statuses decode, one broken field is refused', () => {
  const version = fc.stringMatching(/^[0-9a-z.+-]{1,12}$/);
  const message = fc.record({
    current_version: version,
    latest_version: version,
    status: fc.constantFrom(...connhex.OTA_STATUSES),
    error: fc.string(),
    last_checked: fc.constantFrom('', '2025-03-01T10:00:00Z', '2025-03-01T10:00:00.123456789+01:00'),
  });

  it('every valid payload reads as its word maps, with the tracker following no update (300 runs)', () => {
    fc.assert(
      fc.property(message, fc.boolean(), (fields, asBytes) => {
        const text = JSON.stringify(fields);
        const status = decodeStatus({
          address: SUBJECT,
          payload: asBytes ? new TextEncoder().encode(text) : text,
        });
        const mapped = STATUS_MAPPINGS.connhex.toCanonical[fields.status];
        // No update under way: `updated` is "up to date".
        expect(status!.state).toBe(fields.status === 'updated' ? 'idle' : mapped);
        if (fields.status.endsWith('_failed')) {
          // An empty error still says what failed.
          expect(status!.error?.message).toBe(fields.error || fields.status.replace('_', ' '));
        }
      }),
      RUNS,
    );
  });

  const BREAKS: [field: string, breakIt: (fields: Record<string, unknown>) => unknown][] = [
    ['status', (fields) => ({ ...fields, status: 'installed' })],
    ['status', (fields) => ({ ...fields, status: 'UPDATED' })],
    ['status', ({ status: _status, ...fields }) => fields],
    ['current_version', (fields) => ({ ...fields, current_version: '1.0\n' })],
    ['current_version', (fields) => ({ ...fields, current_version: 1 })],
    ['latest_version', (fields) => ({ ...fields, latest_version: 'v'.repeat(257) })],
    ['last_checked', (fields) => ({ ...fields, last_checked: '1709287200' })],
    ['last_checked', (fields) => ({ ...fields, last_checked: 'yesterday' })],
    ['error', (fields) => ({ ...fields, error: null })],
    ['(root)', (fields) => [fields]],
  ];

  it('each broken field is refused, named, without the key (300 runs)', () => {
    fc.assert(
      fc.property(message, fc.constantFrom(...BREAKS), (fields, [field, breakIt]) => {
        const error = refused(() =>
          decodeStatus({ address: SUBJECT, payload: JSON.stringify(breakIt(fields)) }),
        );
        expect(error.message).toContain(`${field}: expected`);
      }),
      RUNS,
    );
  });

  it('text that is not JSON, or bytes that are not UTF-8, is refused', () => {
    refused(() => decodeStatus({ address: SUBJECT, payload: '{"status":"checking"' }));
    refused(() => decodeStatus({ address: SUBJECT, payload: new Uint8Array([0x7b, 0xff, 0x7d]) }));
    refused(() => decodeStatus({ address: SUBJECT, payload: 'updated' }));
  });
});

describe('no credential of the target in any error', () => {
  it('a bad context or target fails without the key', () => {
    const message = { address: SUBJECT, payload: '{"status":"checking"}' };
    for (const context of [
      { target: { ...target, key: `${KEY} ` }, machineId: 'dev-42' },
      { target: { ...target, domain: undefined }, machineId: 'dev-42' },
      { target: { ...target, extra: KEY }, machineId: 'dev-42' },
      { target, machineId: '' },
      { target, machineId: 'dev-42', previous: { state: KEY, update: null } },
      null,
    ]) {
      refused(() => protocol.cloud.decodeStatus(message, context as never));
      refused(() => protocol.device.decodeOrder(message, context as never));
    }
  });
});
