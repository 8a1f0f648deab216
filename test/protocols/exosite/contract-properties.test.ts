import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  exosite,
  type InboundMessage,
  isOtaError,
  UPDATE_STATES,
  UpdateStatusSchema,
} from '../../../src/index.js';
import { largestInputs, largestOf } from '../../support/cost.js';

const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) };
const { protocol } = exosite;
const TOKEN = 'f3b2c1d0e9a8f7b6c5d4e3f2a1b0c9d8e7f6a5b4';
const PID = 'd1zzd6dflnt50000';
const http: exosite.Target = { productId: PID, identity: 'sensor-0042', transport: 'http', token: TOKEN };
const mqtt: exosite.Target = { productId: PID, identity: 'sensor-0042', transport: 'mqtt' };
const STATE_PATH = exosite.identityStatePath(PID, 'sensor-0042');
const context = { target: mqtt, machineId: 'sensor-0042', at: '2024-05-01T00:00:00.000Z' };

/**
 * Runs `run`; passes when it returns or throws `MANIFEST_INVALID`, never anything else, and no
 * error message shows the device token.
 */
function decodesOrRefuses<T>(run: () => T): T | undefined {
  try {
    return run();
  } catch (error) {
    if (!isOtaError(error, 'MANIFEST_INVALID')) throw error;
    expect(error.message).not.toContain(TOKEN);
    return undefined;
  }
}

/** The issue paths of the MANIFEST_INVALID `run` must throw. */
function refusedAt(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (!isOtaError(error, 'MANIFEST_INVALID')) throw error;
    expect(error.message).not.toContain(TOKEN);
    return error.issues.map((issue) => issue.path);
  }
  throw new Error('expected the input to be refused');
}

// Anything a wire can carry: text, lone surrogates, bytes, JSON (as text and as a value),
// manifests and statuses with every field of the wrong kind, JSON strings holding JSON.
const manifestish = fc.record(
  {
    version: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    name: fc.oneof(fc.string(), fc.constant(undefined)),
    type: fc.constantFrom('URL_LIST', 'FILE', 'JSON', 'ZIP', '', '__proto__'),
    payload: fc.oneof(fc.array(fc.string()), fc.string(), fc.jsonValue(), fc.webUrl()),
  },
  { requiredKeys: [] },
);
const statusish = fc.record(
  {
    version: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    status: fc.oneof(fc.constantFrom(...exosite.OTAU_STATUSES), fc.string()),
    message: fc.oneof(fc.string(), fc.integer()),
  },
  { requiredKeys: [] },
);
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  manifestish.map((value) => JSON.stringify(value)),
  manifestish.map((value) => JSON.stringify(JSON.stringify(value))),
  statusish.map((value) => JSON.stringify(value)),
  fc.constantFrom('[', '{"__proto__":{"polluted":1}}', `${'['.repeat(20_000)}${']'.repeat(20_000)}`),
);
const payload = fc.oneof(text, fc.uint8Array({ maxLength: 512 }));
// Messages that are not messages at all.
const notAMessage = fc.oneof(
  fc.constantFrom(null, undefined, 0, 42, '', '__proto__', [], true),
  fc.jsonValue(),
  fc.record({ address: fc.oneof(fc.string(), fc.integer()), payload: fc.jsonValue() }, { requiredKeys: [] }),
);

describe('exosite.protocol.device.decodeOrder (properties)', () => {
  it('decodes or refuses any payload over MQTT and HTTP, with MANIFEST_INVALID only', () => {
    fc.assert(
      fc.property(payload, fc.constantFrom('config_otau', 'otau_in', 'data_out'), (value, alias) => {
        const mqttResult = decodesOrRefuses(() =>
          protocol.device.decodeOrder({ address: `$resource/${alias}/1`, payload: value }, { target: mqtt }),
        );
        if (mqttResult?.value != null) expect(mqttResult.value.artifacts.length).toBeGreaterThan(0);
        if (typeof value === 'string') {
          const body = exosite.encodeForm({ [alias]: value });
          decodesOrRefuses(() =>
            protocol.device.decodeOrder(
              { address: 'https://x/onep:v1/stack/alias?config_otau', status: 200, payload: body },
              { target: http },
            ),
          );
        }
        decodesOrRefuses(() =>
          protocol.device.decodeOrder({ address: '', status: 200, payload: value }, { target: http }),
        );
      }),
      RUNS,
    );
  });

  it('refuses what is not a message, and never throws anything untyped', () => {
    fc.assert(
      fc.property(notAMessage, fc.string(), (message, topic) => {
        decodesOrRefuses(() => protocol.device.decodeOrder(message as InboundMessage, { target: mqtt }));
        decodesOrRefuses(() =>
          protocol.device.decodeOrder({ address: topic, payload: '{}' } as InboundMessage, { target: mqtt }),
        );
        decodesOrRefuses(() =>
          protocol.device.decodeOrder({ address: '$resource/config_otau', payload: '' }, message as never),
        );
      }),
      RUNS,
    );
  });

  // Structurally valid manifests, each with exactly one required field broken: every one refused,
  // and the error names that field.
  const valid = {
    version: '1.0.2',
    name: 'Firmware update',
    type: 'URL_LIST',
    payload: ['https://cdn.example/fw.bin', 'firmware_updatev102.txt'],
  };
  const broken = fc.oneof(
    fc
      .constantFrom<unknown>(undefined, '', 12, null, 'x'.repeat(257), ['1'])
      .map((version) => ({ field: 'version', manifest: { ...valid, version } })),
    fc
      .constantFrom<unknown>(undefined, 3, null, {})
      .map((name) => ({ field: 'name', manifest: { ...valid, name } })),
    fc
      .constantFrom<unknown>(undefined, 'ZIP', 'url_list', 0, '')
      .map((type) => ({ field: 'type', manifest: { ...valid, type } })),
    fc
      .constantFrom<unknown>(
        [],
        'https://cdn.example/fw.bin',
        [''],
        ['javascript:alert(1)'],
        ['file:///etc/passwd'],
        ['//evil.example/x'],
        ['http:///x'],
      )
      .map((items) => ({ field: 'payload', manifest: { ...valid, payload: items } })),
  );

  it('refuses a manifest with one required field broken, naming the field', () => {
    fc.assert(
      fc.property(broken, fc.boolean(), ({ field, manifest }, overHttp) => {
        const value = JSON.stringify(manifest);
        const paths = overHttp
          ? refusedAt(() =>
              protocol.device.decodeOrder(
                {
                  address: 'https://x/onep:v1/stack/alias',
                  status: 200,
                  payload: exosite.encodeForm({ config_otau: value }),
                },
                { target: http },
              ),
            )
          : refusedAt(() =>
              protocol.device.decodeOrder(
                { address: '$resource/config_otau/1', payload: value },
                { target: mqtt },
              ),
            );
        expect(paths.some((path) => path === field || path.startsWith(`${field}[`) || path === '')).toBe(
          true,
        );
        if (field !== 'type') expect(paths).not.toContain('');
      }),
      RUNS,
    );
  });

  it('refuses an oversized value unparsed, and a deeply nested one', async () => {
    const huge = `{"version":"1","name":"${'x'.repeat(1_100_000)}","type":"URL_LIST","payload":["a"]}`;
    let paths: string[] = [];
    const examined = await largestInputs(() => {
      paths = refusedAt(() =>
        protocol.device.decodeOrder({ address: '$resource/config_otau/1', payload: huge }, { target: mqtt }),
      );
    });
    expect(paths).toEqual(['']);
    expect(largestOf(examined)).toBeLessThanOrEqual(exosite.LIMITS.resourceBytes);
    // Deep enough for JSON.parse to take it and the schema to give up; then too deep to parse at all.
    for (const depth of [5_000, 100_000]) {
      const deep = `{"version":"1","name":"n","type":"JSON","payload":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
      refusedAt(() =>
        protocol.device.decodeOrder({ address: '$resource/config_otau/1', payload: deep }, { target: mqtt }),
      );
    }
  });
});

describe('exosite.protocol.cloud.decodeStatus (properties)', () => {
  const addresses = fc.constantFrom(
    STATE_PATH,
    '$resource/otau_in',
    '$resource.batch',
    'https://x/onep:v1/stack/alias',
  );

  it('decodes to a valid UpdateStatus or null, or refuses with MANIFEST_INVALID', () => {
    fc.assert(
      fc.property(addresses, payload, fc.constantFrom(undefined, 200), (address, value, status) => {
        const message: InboundMessage =
          status === undefined ? { address, payload: value } : { address, payload: value, status };
        const decoded = decodesOrRefuses(() => protocol.cloud.decodeStatus(message, context));
        if (decoded != null) expect(UpdateStatusSchema.parse(decoded)).toEqual(decoded);
      }),
      RUNS,
    );
  });

  it('decodes every status word the device may send, in any tracker state, to a status the schema accepts', () => {
    const previous = fc.option(
      fc.record({
        state: fc.constantFrom(...UPDATE_STATES),
        update: fc.option(fc.record({ id: fc.string({ minLength: 1 }), version: fc.option(fc.string()) }), {
          nil: null,
        }),
      }),
      { nil: null },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...exosite.OTAU_STATUSES),
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 80 }),
        previous,
        (word, version, message, prior) => {
          const reported = JSON.stringify({ version, status: word, message });
          const decoded = protocol.cloud.decodeStatus(
            { address: STATE_PATH, status: 200, payload: JSON.stringify({ otau_in: { reported } }) },
            { ...context, previous: prior },
          );
          expect(UpdateStatusSchema.parse(decoded)).toEqual(decoded);
        },
      ),
      RUNS,
    );
  });

  it('refuses a status with one field broken, naming it', () => {
    const broken = fc.oneof(
      fc
        .constantFrom<unknown>(undefined, 1, null)
        .map((version) => ({ field: 'version', value: { status: 'INIT', version } })),
      fc
        .constantFrom<unknown>(undefined, 'DONE', 'init', 7, '')
        .map((status) => ({ field: 'status', value: { version: '1', status } })),
      fc
        .constantFrom<unknown>(3, null, {})
        .map((message) => ({ field: 'message', value: { version: '1', status: 'INIT', message } })),
    );
    fc.assert(
      fc.property(broken, ({ field, value }) => {
        const paths = refusedAt(() =>
          protocol.cloud.decodeStatus(
            { address: '$resource/otau_in', payload: JSON.stringify(value) },
            context,
          ),
        );
        expect(paths).toEqual([field]);
      }),
      RUNS,
    );
  });

  it('refuses what is not a message, and a context without a machine id', () => {
    fc.assert(
      fc.property(notAMessage, (message) => {
        decodesOrRefuses(() => protocol.cloud.decodeStatus(message as InboundMessage, context));
      }),
      RUNS,
    );
    expect(
      refusedAt(() =>
        protocol.cloud.decodeStatus(
          { address: '$resource/otau_in', payload: '{"version":"1","status":"INIT"}' },
          { target: mqtt, machineId: '' },
        ),
      ),
    ).toEqual(['machineId']);
  });
});

describe('exosite.protocol: round trips (properties)', () => {
  const url = fc.webUrl({ withQueryParameters: true }).filter((value) => !value.includes('#'));
  const version = fc.stringMatching(/^[0-9A-Za-z.+-]{1,40}$/);

  it("every order the cloud writes reaches the device with the manifest's URLs and version", () => {
    fc.assert(
      fc.property(
        version,
        fc.array(url, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (v, urls, overHttp) => {
          const target = overHttp ? http : mqtt;
          const manifest = {
            id: v,
            version: v,
            artifacts: urls.map((u) => ({ url: u, target: 'file' as const })),
          };
          const [order] = protocol.cloud.encodeOrder(manifest, target).value;
          const value = (JSON.parse(order!.payload) as { config_otau: string }).config_otau;
          const inbound: InboundMessage = overHttp
            ? {
                address: 'https://x/onep:v1/stack/alias?config_otau',
                status: 200,
                payload: exosite.encodeForm({ config_otau: value }),
              }
            : { address: '$resource/config_otau/1', payload: value };
          const decoded = protocol.device.decodeOrder(inbound, { target }).value;
          expect(decoded?.version).toBe(v);
          expect(decoded?.artifacts.map((artifact) => artifact.url)).toEqual(urls);
        },
      ),
      RUNS,
    );
  });
});
