/** The ThingsBoard protocol object, both sides, on the wire of docs/protocols/thingsBoard.md (T1–T4). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createUpdateMachine,
  type InboundMessage,
  isOtaError,
  type ManifestInput,
  type TrackerUpdateMachine,
  thingsBoard,
  type UpdateState,
  type UpdateStatus,
} from '../../../src/index.js';

const { protocol } = thingsBoard;
const TOKEN = 'A1_TEST_TOKEN_0123';
const target: thingsBoard.Target = { accessToken: TOKEN };
const httpTarget: thingsBoard.Target = {
  accessToken: TOKEN,
  transport: 'http',
  baseUrl: 'https://tb.example.com',
};
const T1_SHA = '17ae291d08837890026d562e5b666f88d6389fe71d1183d6ed7eeee7505cc209';
const T1_PUSH = {
  fw_title: 'f',
  fw_version: '1.2',
  fw_size: 421320,
  fw_checksum_algorithm: 'SHA256',
  fw_checksum: T1_SHA,
};
const CURRENT = { id: 'fw:f@1.1', version: '1.1' };
const AT = '2025-01-01T00:00:00.000Z';

function push(payload: unknown): InboundMessage {
  return { address: 'v1/devices/me/attributes', payload: JSON.stringify(payload) };
}

function telemetry(payload: unknown): InboundMessage {
  return { address: 'v1/devices/me/telemetry', payload: JSON.stringify(payload) };
}

function status(
  state: UpdateState,
  previous: UpdateState | null,
  extra: Partial<UpdateStatus> = {},
): UpdateStatus {
  return { machineId: 'tb-1', updateId: 'fw:f@1.2', version: '1.2', state, previous, at: AT, ...extra };
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** Decodes `message` as the cloud does, with what `tracker` knows, and ingests the result. */
async function follow(tracker: TrackerUpdateMachine, message: InboundMessage) {
  const snapshot = tracker.snapshot();
  const decoded = protocol.cloud.decodeStatus(message, {
    target,
    machineId: 'tb-1',
    previous: { state: snapshot.state, update: snapshot.update },
    at: AT,
  });
  if (decoded === null) return null;
  const result = await tracker.ingest(decoded);
  expect(result.accepted, JSON.stringify(result)).toBe(true);
  return decoded;
}

describe('thingsBoard.protocol identity', () => {
  it('is the descriptor plus both codecs and the target schema', () => {
    expect(protocol.name).toBe('thingsBoard');
    expect(protocol.integrity).toBe('sha256');
    expect(protocol.statusMapping).toBe(thingsBoard.descriptor.statusMapping);
    expect(protocol.secrets.headers).toContain('x-authorization');
    expect(Object.keys(protocol.jsonSchemas)).toContain('sharedAttributes');
  });

  it('validates targets, naming the field and never the token', () => {
    expect(protocol.targetSchema.parse(target)).toEqual(target);
    for (const bad of [
      { accessToken: `${TOKEN}/x` },
      { accessToken: `${TOKEN} x` },
      { accessToken: TOKEN, transport: 'http' },
      { accessToken: TOKEN, transport: 'coap' },
      { accessToken: TOKEN, baseUrl: `ftp://${TOKEN}` },
    ]) {
      const error = thrown(() => protocol.device.orderSources(bad as thingsBoard.Target));
      expect(isOtaError(error, 'MANIFEST_INVALID'), JSON.stringify(bad)).toBe(true);
      expect((error as Error).message).not.toContain(TOKEN);
    }
    expect(() => protocol.device.orderSources({} as thingsBoard.Target)).toThrow(/accessToken/);
  });
});

describe('thingsBoard.protocol device side', () => {
  it('listens on the attribute topics over MQTT and polls the attributes URL over HTTP', () => {
    expect(protocol.device.orderSources(target)).toEqual([
      { channel: 'mqtt', filter: 'v1/devices/me/attributes', qos: 1 },
      { channel: 'mqtt', filter: 'v1/devices/me/attributes/response/+', qos: 1 },
    ]);
    expect(protocol.device.orderSources(httpTarget)).toEqual([
      {
        channel: 'http',
        request: {
          channel: 'http',
          method: 'GET',
          address: `https://tb.example.com/api/v1/${TOKEN}/attributes?sharedKeys=fw_title,fw_version,fw_size,fw_checksum,fw_checksum_algorithm,fw_url,fw_tag`,
          payload: '',
        },
      },
    ]);
  });

  it('with statements, asks for the signed statement attribute too (boot request, HTTP poll); the SDK requests otherwise', () => {
    const keys = 'fw_title,fw_version,fw_size,fw_checksum,fw_checksum_algorithm,fw_url,fw_tag';
    const boot = protocol.device.bootReport(null, { target: { ...target, statements: true } });
    expect(boot.map((message) => JSON.parse(String(message.payload)))).toEqual([
      { sharedKeys: `${keys},otakit_fw_manifest` },
    ]);
    expect(protocol.device.bootReport(null, { target }).map((message) => String(message.payload))).toEqual([
      JSON.stringify({ sharedKeys: keys }),
    ]);
    const [poll] = protocol.device.orderSources({ ...httpTarget, statements: true, type: 'software' });
    expect(poll).toMatchObject({
      request: { address: expect.stringMatching(/sharedKeys=sw_title,.*,sw_tag,otakit_sw_manifest$/) },
    });
  });

  it('T1: decodes the attribute push over current f/1.1 into a SHA-256 manifest', () => {
    const { value, lost } = protocol.device.decodeOrder(push(T1_PUSH), { target, current: CURRENT });
    expect(lost).toEqual([]);
    expect(value).toMatchObject({
      id: 'fw:f@1.2',
      version: '1.2',
      artifacts: [{ url: 'firmware?title=f&version=1.2', size: 421320, sha256: T1_SHA, target: 'firmware' }],
    });
    // The same package as an attribute response, over MQTT and HTTP.
    const response = JSON.stringify({ shared: T1_PUSH });
    for (const address of [
      'v1/devices/me/attributes/response/1',
      `https://tb.example.com/api/v1/${TOKEN}/attributes?sharedKeys=fw_title`,
    ]) {
      expect(protocol.device.decodeOrder({ address, payload: response }, { target }).value).toEqual(value);
    }
  });

  it('T3: a package with another title is not for this device unless titleRule is any', () => {
    const other = { id: 'fw:other-product@1.1', version: '1.1' };
    const refused = protocol.device.decodeOrder(push(T1_PUSH), { target, current: other });
    expect(refused).toEqual({
      value: null,
      lost: [{ field: 'fw_title', reason: expect.stringContaining('not for') }],
    });
    const any = protocol.device.decodeOrder(push(T1_PUSH), {
      target: { ...target, titleRule: 'any' },
      current: other,
    });
    expect(any.value?.version).toBe('1.2');
  });

  it('has no order in an empty body, other attributes, a removed package, or the package it runs', () => {
    const none = { value: null, lost: [] };
    const context = { target, current: CURRENT };
    expect(
      protocol.device.decodeOrder({ address: 'v1/devices/me/attributes', payload: '' }, context),
    ).toEqual(none);
    expect(protocol.device.decodeOrder(push({ led: 'on' }), context)).toEqual(none);
    expect(protocol.device.decodeOrder(push({ deleted: ['fw_title', 'fw_version'] }), context)).toEqual(none);
    expect(
      protocol.device.decodeOrder(push(T1_PUSH), { target, current: { id: 'fw:f@1.2', version: '1.2' } }),
    ).toEqual(none);
    // A software target ignores firmware keys.
    expect(protocol.device.decodeOrder(push(T1_PUSH), { target: { ...target, type: 'software' } })).toEqual(
      none,
    );
    const longPollTimeout = {
      address: `https://tb.example.com/api/v1/${TOKEN}/attributes/updates?timeout=20000`,
      payload: '',
      status: 408,
    };
    expect(protocol.device.decodeOrder(longPollTimeout, { target: httpTarget })).toEqual(none);
  });

  it('T1: encodes the transitions of an update as the telemetry the vectors show', () => {
    const transitions = [
      status('downloading', 'available'),
      status('downloaded', 'downloading'),
      status('verifying', 'downloaded'),
      status('installing', 'verifying'),
      status('installed', 'installing'),
      status('committed', 'installed'),
    ];
    const messages = transitions.flatMap((item) => protocol.device.encodeStatus(item, { target }));
    expect(messages.every((message) => message.address === 'v1/devices/me/telemetry')).toBe(true);
    expect(messages.map((message) => JSON.parse(message.payload))).toEqual([
      { fw_state: 'DOWNLOADING' },
      { fw_state: 'DOWNLOADED' },
      { fw_state: 'VERIFIED' },
      { fw_state: 'UPDATING' },
      { current_fw_title: 'f', current_fw_version: '1.2', fw_state: 'UPDATED' },
    ]);
    const [overHttp] = protocol.device.encodeStatus(status('downloading', 'available'), {
      target: httpTarget,
    });
    expect(overHttp).toEqual({
      channel: 'http',
      method: 'POST',
      address: `https://tb.example.com/api/v1/${TOKEN}/telemetry`,
      payload: '{"fw_state":"DOWNLOADING"}',
      headers: { 'content-type': 'application/json' },
    });
  });

  it('T2: a checksum mismatch is FAILED with fw_error', () => {
    const error = {
      name: 'IntegrityError',
      code: 'INTEGRITY' as const,
      message: 'sha256 mismatch',
      retryable: false,
    };
    const [message, ...rest] = protocol.device.encodeStatus(status('verify_failed', 'verifying', { error }), {
      target,
    });
    expect(rest).toEqual([]);
    expect(JSON.parse(message!.payload)).toEqual({
      fw_state: 'FAILED',
      fw_error: 'verify_failed: INTEGRITY: sha256 mismatch',
    });
  });

  it('reports at boot what it runs and asks for its package attributes', () => {
    expect(protocol.device.bootReport({ id: 'fw:f@1.1', version: '1.1' }, { target })).toEqual([
      {
        channel: 'mqtt',
        address: 'v1/devices/me/telemetry',
        payload: '{"current_fw_title":"f","current_fw_version":"1.1"}',
        qos: 1,
      },
      {
        channel: 'mqtt',
        address: 'v1/devices/me/attributes/request/1',
        payload: JSON.stringify({
          sharedKeys: 'fw_title,fw_version,fw_size,fw_checksum,fw_checksum_algorithm,fw_url,fw_tag',
        }),
        qos: 1,
      },
    ]);
    expect(protocol.device.bootReport(null, { target: httpTarget })).toEqual([]);
  });
});

describe('thingsBoard.protocol cloud side', () => {
  it('T1: sends the package as the attribute update, and withdraws it with deleted keys', () => {
    const manifest = protocol.device.decodeOrder(push(T1_PUSH), { target }).value!;
    const { value, lost } = protocol.cloud.encodeOrder(manifest, target);
    expect(lost).toEqual([]);
    expect(value).toHaveLength(1);
    expect(value[0]).toMatchObject({ channel: 'mqtt', address: 'v1/devices/me/attributes', qos: 1 });
    expect(JSON.parse(value[0]!.payload)).toEqual(T1_PUSH);

    const [withdrawal] = protocol.cloud.encodeWithdrawal(target);
    expect(withdrawal!.address).toBe('v1/devices/me/attributes');
    const inbound = { address: withdrawal!.address, payload: withdrawal!.payload };
    expect(protocol.device.decodeOrder(inbound, { target }).value).toBeNull();
    expect(protocol.cloud.statusSources(target)).toEqual([
      { channel: 'mqtt', filter: 'v1/devices/me/telemetry', qos: 1 },
    ]);
    expect(protocol.cloud.statusSources(httpTarget)).toEqual([]);
  });

  it('refuses a manifest ThingsBoard cannot carry', () => {
    const two: ManifestInput = {
      id: 'x',
      version: '1',
      artifacts: [
        { url: 'https://h/a', sha256: T1_SHA, target: 'firmware' },
        { url: 'https://h/b', sha256: T1_SHA, target: 'firmware' },
      ],
    };
    expect(
      isOtaError(
        thrown(() => protocol.cloud.encodeOrder(two, target)),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
  });

  it('T1/T2: maps each vector status to its canonical state', () => {
    const context = {
      target,
      machineId: 'tb-1',
      at: AT,
      previous: { state: 'available' as const, update: { id: 'fw:f@1.2', version: '1.2' } },
    };
    const cases: Array<[unknown, UpdateState]> = [
      [{ fw_state: 'DOWNLOADING' }, 'downloading'],
      [{ fw_state: 'DOWNLOADED' }, 'downloaded'],
      [{ fw_state: 'VERIFIED' }, 'downloaded'],
      [{ fw_state: 'UPDATING' }, 'installing'],
      [{ current_fw_title: 'f', current_fw_version: '1.2', fw_state: 'UPDATED' }, 'committed'],
      [{ fw_state: 'FAILED', fw_error: 'verify_failed: INTEGRITY: sha256 mismatch' }, 'verify_failed'],
    ];
    for (const [payload, state] of cases) {
      const decoded = protocol.cloud.decodeStatus(telemetry(payload), context);
      expect(decoded, JSON.stringify(payload)).toMatchObject({
        machineId: 'tb-1',
        updateId: 'fw:f@1.2',
        version: '1.2',
        state,
        previous: 'available',
        at: AT,
      });
    }
    // A timestamped message carries its own time.
    const stamped = protocol.cloud.decodeStatus(
      telemetry({ ts: 1451649600512, values: { fw_state: 'UPDATING' } }),
      context,
    );
    expect(stamped?.at).toBe('2016-01-01T12:00:00.512Z');
  });

  it('returns null for what is not a status', () => {
    const context = {
      target,
      machineId: 'tb-1',
      previous: { state: 'downloading' as const, update: CURRENT },
    };
    expect(protocol.cloud.decodeStatus(push(T1_PUSH), context)).toBeNull();
    expect(protocol.cloud.decodeStatus(telemetry({ temperature: 21 }), context)).toBeNull();
    expect(
      protocol.cloud.decodeStatus({ address: 'v1/devices/me/telemetry', payload: '' }, context),
    ).toBeNull();
    // A boot report mid-update says nothing; with nothing under way it is idle.
    const boot = telemetry({ current_fw_title: 'f', current_fw_version: '1.1' });
    expect(protocol.cloud.decodeStatus(boot, context)).toBeNull();
    expect(protocol.cloud.decodeStatus(boot, { ...context, previous: null })).toMatchObject({
      state: 'idle',
      version: '1.1',
    });
  });

  it('follows a whole update in a real tracker to committed, and a checksum mismatch to verify_failed', async () => {
    for (const failing of [false, true]) {
      const tracker = createUpdateMachine({ id: 'tb-1', role: 'tracker' });
      const [order] = protocol.cloud.encodeOrder(
        {
          id: 'release-7',
          version: '1.2',
          artifacts: [
            { url: 'https://files.example.com/f.bin', sha256: T1_SHA, name: 'f', target: 'firmware' },
          ],
        },
        target,
      ).value;
      // The service tells its tracker what it ordered (ThingsBoard's own QUEUED/INITIATED).
      await tracker.ingest({
        machineId: 'tb-1',
        updateId: 'release-7',
        version: '1.2',
        state: 'available',
        previous: 'idle',
        at: AT,
      });
      const manifest = protocol.device.decodeOrder(
        { address: order!.address, payload: order!.payload },
        { target, current: CURRENT },
      ).value!;
      const reported = { updateId: manifest.id, version: manifest.version };
      const steps: UpdateStatus[] = [
        status('downloading', 'available', reported),
        status('downloaded', 'downloading', reported),
        status('verifying', 'downloaded', reported),
        ...(failing
          ? [
              status('verify_failed', 'verifying', {
                ...reported,
                error: {
                  name: 'IntegrityError',
                  code: 'INTEGRITY',
                  message: 'sha256 mismatch',
                  retryable: false,
                },
              }),
            ]
          : [
              status('installing', 'verifying', reported),
              status('installed', 'installing', reported),
              status('committed', 'installed', reported),
            ]),
      ];
      for (const step of steps) {
        for (const message of protocol.device.encodeStatus(step, { target })) {
          await follow(tracker, { address: message.address, payload: message.payload });
        }
      }
      const snapshot = tracker.snapshot();
      expect(snapshot.state).toBe(failing ? 'verify_failed' : 'committed');
      expect(snapshot.update).toEqual({ id: 'release-7', version: '1.2' });
      if (!failing) expect(snapshot.current).toEqual({ id: 'release-7', version: '1.2' });
      if (failing) expect(snapshot.lastError?.code).toBe('INTEGRITY');
    }
  });
});

describe('thingsBoard.protocol refuses malformed input with MANIFEST_INVALID only', () => {
  const orderContext = { target, current: CURRENT };
  const statusContext = {
    target,
    machineId: 'tb-1',
    previous: { state: 'downloading' as const, update: CURRENT },
  };
  const addresses = fc.constantFrom(
    'v1/devices/me/attributes',
    'v1/devices/me/attributes/response/7',
    'v1/devices/me/telemetry',
    `https://tb.example.com/api/v1/${TOKEN}/telemetry`,
    '__proto__',
    '',
  );
  const payloads = fc.oneof(
    fc.string(),
    fc.uint8Array({ maxLength: 64 }),
    fc.json().map((text) => text),
    fc.jsonValue().map((value) => JSON.stringify({ ...T1_PUSH, fw_state: value, fw_size: value })),
    fc.constant('{"__proto__":{"fw_title":"x"}}'),
    fc.constant(`${'['.repeat(20_000)}${']'.repeat(20_000)}`),
    fc.constant('x'.repeat(70_000)),
  );
  const messages = fc.oneof(
    fc.record({ address: addresses, payload: payloads }),
    fc.anything(),
    fc.constantFrom(null, undefined, 42, '__proto__', { address: 1, payload: 2 }),
  );

  function expectDecodedOrRefused(run: () => unknown) {
    try {
      run();
    } catch (error) {
      expect(isOtaError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
      expect((error as Error).message).not.toContain(TOKEN);
    }
  }

  it('decodeOrder and decodeStatus never throw anything else', () => {
    fc.assert(
      fc.property(messages, (message) => {
        expectDecodedOrRefused(() => protocol.device.decodeOrder(message as InboundMessage, orderContext));
        expectDecodedOrRefused(() => protocol.cloud.decodeStatus(message as InboundMessage, statusContext));
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) },
    );
  });

  it('refuses an otherwise valid order with one required field broken', () => {
    const broken = fc.constantFrom<[string, unknown]>(
      ['fw_title', ''],
      ['fw_title', 7],
      ['fw_version', null],
      ['fw_size', -1],
      ['fw_size', 1.5],
      ['fw_size', '421320'],
      ['fw_checksum', 'xyz'],
      ['fw_checksum', T1_SHA.slice(1)],
      ['fw_checksum_algorithm', 'SHA1'],
      ['fw_checksum_algorithm', undefined],
      ['fw_checksum', undefined],
      ['fw_url', `ftp://${TOKEN}@h/f`],
    );
    fc.assert(
      fc.property(broken, fc.boolean(), ([key, value], asResponse) => {
        const attributes: Record<string, unknown> = { ...T1_PUSH, [key]: value };
        if (value === undefined) delete attributes[key];
        const message = asResponse
          ? {
              address: 'v1/devices/me/attributes/response/3',
              payload: JSON.stringify({ shared: attributes }),
            }
          : push(attributes);
        const error = thrown(() => protocol.device.decodeOrder(message, { target }));
        expect(isOtaError(error, 'MANIFEST_INVALID'), `${key}=${String(value)}`).toBe(true);
        expect((error as Error).message).toContain(key);
        expect((error as Error).message).not.toContain(TOKEN);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) },
    );
  });

  it('refuses a status with a bad fw_state, fw_error or timestamp, and an order on an unknown address', () => {
    const bad = fc.oneof(
      fc
        .string()
        .filter((text) => !thingsBoard.FW_STATES.includes(text as thingsBoard.FwState))
        .map((fw_state) => ({ fw_state })),
      fc.constantFrom(
        { fw_state: 'FAILED', fw_error: 42 },
        { ts: -1, values: { fw_state: 'UPDATED' } },
        { ts: 9e15, values: { fw_state: 'UPDATED' } },
        { current_fw_version: '' },
      ),
    );
    fc.assert(
      fc.property(bad, (payload) => {
        const error = thrown(() => protocol.cloud.decodeStatus(telemetry(payload), statusContext));
        expect(isOtaError(error, 'MANIFEST_INVALID'), JSON.stringify(payload)).toBe(true);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) },
    );
    const elsewhere = {
      address: `https://tb.example.com/api/v1/${TOKEN}/firmware?title=f`,
      payload: JSON.stringify(T1_PUSH),
    };
    const error = thrown(() => protocol.device.decodeOrder(elsewhere, orderContext));
    expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
    expect((error as Error).message).not.toContain(TOKEN);
    const failed = { address: 'v1/devices/me/attributes/response/1', payload: '{}', status: 401 };
    expect(
      isOtaError(
        thrown(() => protocol.device.decodeOrder(failed, orderContext)),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
  });

  it('round-trips arbitrary packages through cloud.encodeOrder and device.decodeOrder', () => {
    const text = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/);
    fc.assert(
      fc.property(
        text,
        text,
        fc.nat(),
        fc.stringMatching(/^[0-9a-f]{64}$/),
        (title, version, size, sha256) => {
          const manifest = {
            id: `fw:${title}@${version}`,
            version,
            artifacts: [
              {
                url: `https://h.example/${title}.bin`,
                size,
                sha256,
                name: title,
                target: 'firmware' as const,
              },
            ],
          };
          const [order] = protocol.cloud.encodeOrder(manifest, target).value;
          const { value } = protocol.device.decodeOrder(
            { address: order!.address, payload: order!.payload },
            { target },
          );
          expect(value?.version).toBe(version);
          expect(value?.artifacts).toEqual([
            { url: `https://h.example/${title}.bin`, size, sha256, target: 'firmware', name: title },
          ]);
        },
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) },
    );
  });
});
