/**
 * insigh.io through the one protocol contract, both sides, on the platform's reference cases
 * (I1–I10 of docs/protocols/insighIo.md): the console's order, the device's statuses, the clears,
 * and a real tracker fed with what the cloud side decodes. Properties: any input decodes or is a
 * typed MANIFEST_INVALID, what must be refused is refused, and the device key never shows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOtaError } from '../../../src/core/errors.js';
import { redactUrlWith } from '../../../src/core/redact.js';
import type { UpdateState } from '../../../src/core/states.js';
import type { UpdateStatus } from '../../../src/core/status.js';
import { createUpdateMachine } from '../../../src/index.js';
import type { InboundMessage, WireMessage } from '../../../src/protocols/contract.js';
import * as insighIo from '../../../src/protocols/insighio/index.js';
import { CC, DID, DK, I2_URL, ORDER_TEXT, OTA_TOPIC } from './fixtures.js';

const { protocol } = insighIo;
const { device, cloud } = protocol;
const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) };
const target: insighIo.Target = { controlChannelId: CC, deviceId: DID, deviceKey: DK };
const cloudTarget: insighIo.Target = { controlChannelId: CC, deviceId: DID };
const AT = '2026-12-04T12:00:00.000Z';
const UPDATE = { id: 'fa8884d2', version: 'fa8884d2' };

const onOta = (payload: string | Uint8Array): InboundMessage => ({ address: OTA_TOPIC, payload });
const status = (state: UpdateState, extra: Partial<UpdateStatus> = {}): UpdateStatus => ({
  machineId: DID,
  updateId: state === 'idle' ? null : UPDATE.id,
  version: state === 'idle' ? null : UPDATE.version,
  state,
  previous: null,
  at: AT,
  ...extra,
});
const sent = (payload: string, retain: boolean): WireMessage => ({
  channel: 'mqtt',
  address: OTA_TOPIC,
  payload,
  qos: 1,
  retain,
});
const CLEAR = sent('', true);

/** What `run` threw: it must throw an OtaError with code MANIFEST_INVALID. */
function refusal(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    expect(isOtaError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
    return error as Error;
  }
  throw new Error('expected a MANIFEST_INVALID refusal');
}

/** Runs `decode`: it returns, or throws a MANIFEST_INVALID that never shows the device key. */
function typedOutcome<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch (error) {
    expect(isOtaError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
    expect((error as Error).message).not.toContain(DK);
    return undefined;
  }
}

describe('insigh.io protocol object', () => {
  it('carries the descriptor identity and validates targets by field, never echoing the key', () => {
    expect(protocol).toMatchObject({ name: 'insighIo', title: 'insigh.io', integrity: 'none' });
    expect(protocol.secrets.queryParameters).toContain('dk');
    expect(protocol.targetSchema.parse(target)).toEqual(target);
    expect(protocol.targetSchema.parse(cloudTarget)).toEqual(cloudTarget);
    const bad: Array<[unknown, RegExp]> = [
      [{ controlChannelId: CC, deviceId: 'a/b' }, /deviceId/],
      [{ controlChannelId: '+', deviceId: DID }, /controlChannelId/],
      [{ controlChannelId: CC, deviceId: DID, deviceKey: `${DK}\n` }, /deviceKey/],
      [{ controlChannelId: CC, deviceId: DID, baseUrl: 'http://console.insigh.io/mf-rproxy' }, /https/],
      [{ controlChannelId: CC, deviceId: DID, baseUrl: `https://u:${DK}@h/` }, /user info/],
      [{ controlChannelId: CC, deviceId: DID, baseUrl: `https://h/?dk=${DK}` }, /query/],
      [{ ...target, password: DK }, /unknown keys/],
      [null, /insigh\.io target/],
    ];
    for (const [value, message] of bad) {
      const error = refusal(() => device.orderSources(value as insighIo.Target));
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain(DK);
    }
    const insecure = { ...cloudTarget, baseUrl: 'http://10.0.0.1/mf-rproxy', allowInsecureHttp: true };
    expect(protocol.targetSchema.safeParse(insecure).success).toBe(true);
  });

  it('declares where insigh.io carries the key in URLs, so redaction masks it', () => {
    const websocket = `wss://console.insigh.io/ws/channels/${CC}/messages?authorization=${DK}`;
    for (const url of [I2_URL, websocket]) {
      expect(redactUrlWith(url, protocol.secrets)).not.toContain(DK);
      expect(redactUrlWith(url, protocol.secrets)).toContain(CC);
    }
  });

  it('I1: the device subscribes to its whole control topic; the cloud listens on the OTA topic', () => {
    expect(device.orderSources(target)).toEqual([
      { channel: 'mqtt', filter: `channels/${CC}/messages/${DID}/#`, qos: 1 },
    ]);
    expect(cloud.statusSources(cloudTarget)).toEqual([{ channel: 'mqtt', filter: OTA_TOPIC, qos: 1 }]);
    expect(device.bootReport(UPDATE, { target })).toEqual([]);
  });
});

describe('device side: orders in (I2, I7-I10)', () => {
  it('I2: decodes the retained order into a package manifest whose URL is the download URL without dk', () => {
    for (const payload of [ORDER_TEXT, new TextEncoder().encode(ORDER_TEXT)]) {
      const { value, lost } = device.decodeOrder(onOta(payload), { target });
      expect(lost).toEqual([]);
      const withoutKey = new URL(I2_URL);
      withoutKey.searchParams.delete('dk');
      expect(value).toMatchObject({
        id: 'fa8884d2',
        version: 'fa8884d2',
        artifacts: [{ url: withoutKey.href, size: 3987, target: 'package', name: 'fa8884d2.tar.gz' }],
      });
      expect(JSON.stringify(value)).not.toContain(DK);
      // On the wire, downloadAuth adds dk back: exactly the firmware's URL of I2.
      const auth = insighIo.downloadAuth(DK);
      const wire = new URL(value!.artifacts[0]!.url);
      if (auth.type !== 'query') throw new Error('expected a query credential');
      wire.searchParams.set(auth.name, auth.value);
      const sorted = (url: URL) => [...url.searchParams].sort(([a], [b]) => a.localeCompare(b));
      expect(sorted(wire)).toEqual(sorted(new URL(I2_URL)));
      expect(wire.origin + wire.pathname).toBe('https://console.insigh.io/mf-rproxy/packages/download');
    }
  });

  it('builds the URL on the target base URL, and the same order decodes without a device key', () => {
    const elsewhere = { ...cloudTarget, baseUrl: 'https://ota.example.com/mf-rproxy/' };
    const { value } = device.decodeOrder(onOta(ORDER_TEXT), { target: elsewhere });
    expect(value!.artifacts[0]!.url).toBe(
      `https://ota.example.com/mf-rproxy/packages/download?fuid=fa8884d2&did=${DID}&cid=${CC}`,
    );
  });

  it('I7, I8: the device ignores statuses (its own echo) and the cleared order', () => {
    const ignored = [
      '[{"n":"e","v":1},{"n":"i","vs":"fa8884d2"}]',
      '[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"can not apply"}]',
      '[{"n":"e","v":3},{"n":"i","vs":"fa8884d2"}]',
      '',
      new Uint8Array(0),
    ];
    for (const payload of ignored)
      expect(device.decodeOrder(onOta(payload), { target })).toEqual({ value: null, lost: [] });
  });

  it('ignores other control subtopics (config, cmd) whatever they carry', () => {
    for (const subtopic of ['config', 'cmd', 'configRequest']) {
      const message = { address: `channels/${CC}/messages/${DID}/${subtopic}`, payload: ORDER_TEXT };
      expect(device.decodeOrder(message, { target }).value).toBeNull();
    }
    expect(
      device.decodeOrder({ address: `channels/${CC}/messages/${DID}`, payload: '{' }, { target }).value,
    ).toBeNull();
  });

  it('I9: an order without t or s is refused, naming the missing record', () => {
    const withoutType = '[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"s","v":3987}]';
    const withoutSize = '[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"}]';
    expect(refusal(() => device.decodeOrder(onOta(withoutType), { target })).message).toMatch(
      /"t" \(the file type\)/,
    );
    expect(refusal(() => device.decodeOrder(onOta(withoutSize), { target })).message).toMatch(
      /"s" \(the file size\)/,
    );
  });

  it('I10: e sent as 0.0 is an order (JSON has one number type)', () => {
    const payload = ORDER_TEXT.replace('"v":0}', '"v":0.0}');
    expect(device.decodeOrder(onOta(payload), { target }).value?.id).toBe('fa8884d2');
  });

  it('refuses an order on the topic of another device or channel, and a malformed topic', () => {
    for (const address of [
      `channels/${CC}/messages/other-device/ota`,
      `channels/other-channel/messages/${DID}/ota`,
      `channels/${CC}/messages/${DID}/ota/extra`,
      `channels/${CC}/messages/+/ota`,
      '',
    ]) {
      expect(refusal(() => device.decodeOrder({ address, payload: ORDER_TEXT }, { target })).message).toMatch(
        /address/,
      );
    }
  });
});

describe('device side: statuses out (I3-I6)', () => {
  it('I3: committed is e=1 (non-retained, QoS 1), then the empty retained payload that clears the order', () => {
    expect(device.encodeStatus(status('committed'), { target })).toEqual([
      sent('[{"n":"e","v":1},{"n":"i","vs":"fa8884d2"}]', false),
      CLEAR,
    ]);
  });

  it('I4: a download refused for want of space says "not enough space" and keeps the order', () => {
    const error = {
      name: 'InsufficientSpaceError',
      code: 'DOWNLOAD',
      message: 'Not enough free space',
      retryable: false,
    } as const;
    expect(device.encodeStatus(status('download_failed', { error }), { target })).toEqual([
      sent('[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"not enough space"}]', false),
    ]);
  });

  it('I5: a failed download says "can not download" and keeps the order (retried at the next wake)', () => {
    const error = { name: 'TransportError', code: 'DOWNLOAD', message: 'HTTP 403', retryable: true } as const;
    expect(device.encodeStatus(status('download_failed', { error }), { target })).toEqual([
      sent('[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"can not download"}]', false),
    ]);
  });

  it('I6: a corrupt archive says "can not apply" and clears the order (no retry)', () => {
    expect(device.encodeStatus(status('install_failed'), { target })).toEqual([
      sent('[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"can not apply"}]', false),
      CLEAR,
    ]);
  });

  it('says nothing for the states insigh.io has no word for, nor without an update id', () => {
    for (const state of [
      'idle',
      'checking',
      'available',
      'downloading',
      'downloaded',
      'verifying',
      'installing',
      'installed',
      'rolling_back',
    ] as const) {
      expect(device.encodeStatus(status(state), { target }), state).toEqual([]);
    }
    expect(device.encodeStatus(status('committed', { updateId: null }), { target })).toEqual([]);
  });

  it('refuses a status whose update id cannot be a file id, and an invalid status', () => {
    refusal(() => device.encodeStatus(status('committed', { updateId: 'release/1' }), { target }));
    refusal(() => device.encodeStatus({ ...status('committed'), state: 'done' } as never, { target }));
  });
});

describe('cloud side: orders out, statuses in', () => {
  const manifest = device.decodeOrder(onOta(ORDER_TEXT), { target }).value!;

  it('encodes the I2 order exactly as the console retains it, losing nothing', () => {
    const { value, lost } = cloud.encodeOrder(manifest, cloudTarget);
    expect(value).toEqual([sent(ORDER_TEXT, true)]);
    expect(lost).toEqual([]);
  });

  it('lists what an insigh.io order cannot carry', () => {
    const richer = {
      ...manifest,
      version: '2.3.0',
      expiresAt: '2030-01-01T00:00:00Z',
      artifacts: [{ ...manifest.artifacts[0]!, sha256: 'a'.repeat(64) }],
      extensions: { ...manifest.extensions, exosite: { x: 1 } },
    };
    const { value, lost } = cloud.encodeOrder(richer, cloudTarget);
    expect(value).toEqual([sent(ORDER_TEXT, true)]);
    expect(lost.map((loss) => loss.field).sort()).toEqual(
      ['artifacts[0].sha256', 'expiresAt', 'extensions.exosite', 'version'].sort(),
    );
  });

  it('refuses a manifest it cannot express (two artifacts, no size)', () => {
    const two = { ...manifest, artifacts: [manifest.artifacts[0]!, manifest.artifacts[0]!] };
    expect(refusal(() => cloud.encodeOrder(two, cloudTarget)).message).toMatch(/exactly one artifact/);
    const { size: _size, ...sizeless } = manifest.artifacts[0]!;
    expect(
      refusal(() => cloud.encodeOrder({ ...manifest, artifacts: [sizeless] }, cloudTarget)).message,
    ).toMatch(/size/);
  });

  it('withdraws an order with the empty retained payload, which the device reads as no order', () => {
    const messages = cloud.encodeWithdrawal(cloudTarget);
    expect(messages).toEqual([CLEAR]);
    expect(device.decodeOrder(onOta(messages[0]!.payload), { target }).value).toBeNull();
  });

  const context = {
    target: cloudTarget,
    machineId: DID,
    previous: { state: 'available' as const, update: { id: 'fa8884d2', version: '2.3.0' } },
    at: AT,
  };
  const decoded = (payload: string) => cloud.decodeStatus(onOta(payload), context);

  it('I3: e=1 is committed, with the version the tracker knows (the wire has none)', () => {
    expect(decoded('[{"n":"e","v":1},{"n":"i","vs":"fa8884d2"}]')).toEqual({
      machineId: DID,
      updateId: 'fa8884d2',
      version: '2.3.0',
      state: 'committed',
      previous: 'available',
      at: AT,
      error: null,
    });
  });

  it('I4-I6: e=2 is the failure its message names, with the message as the error', () => {
    const cases: Array<[string, UpdateState, string]> = [
      ['not enough space', 'download_failed', 'DOWNLOAD'],
      ['can not download', 'download_failed', 'DOWNLOAD'],
      ['can not apply', 'install_failed', 'INSTALL'],
      ['can not verify', 'verify_failed', 'INTEGRITY'],
      ['rolled back', 'rolled_back', 'INSTALL'],
      ['something else', 'install_failed', 'INSTALL'],
    ];
    for (const [message, state, code] of cases) {
      const result = decoded(`[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"${message}"}]`);
      expect(result, message).toMatchObject({ state, updateId: 'fa8884d2', error: { code, message } });
    }
    // The docs' typo for the message record is read too.
    expect(
      decoded('[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"m":"i","vs":"not enough space"}]')?.state,
    ).toBe('download_failed');
    expect(decoded('[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"}]')).toMatchObject({ state: 'install_failed' });
  });

  it('e=3 is canceled; the order itself, the clear and other subtopics are no status', () => {
    expect(decoded('[{"n":"e","v":3},{"n":"i","vs":"fa8884d2"}]')?.state).toBe('canceled');
    expect(decoded(ORDER_TEXT)).toBeNull();
    expect(decoded('')).toBeNull();
    const config = { address: `channels/${CC}/messages/${DID}/config`, payload: '[]' };
    expect(cloud.decodeStatus(config, context)).toBeNull();
  });

  it('leaves the version null for an update the tracker does not know', () => {
    const fresh = cloud.decodeStatus(onOta('[{"n":"e","v":1},{"n":"i","vs":"0badc0de"}]'), {
      target: cloudTarget,
      machineId: DID,
    });
    expect(fresh).toMatchObject({ updateId: '0badc0de', version: null, previous: null, state: 'committed' });
  });
});

describe('a real tracker fed by the cloud side', () => {
  /** Sends `states` through device.encodeStatus → cloud.decodeStatus → tracker.ingest. */
  async function follow(states: Array<UpdateState | [UpdateState, Partial<UpdateStatus>]>) {
    const tracker = createUpdateMachine({ id: DID, role: 'tracker' });
    const wire: WireMessage[] = [];
    for (const step of states) {
      const [state, extra] = typeof step === 'string' ? [step, {}] : step;
      for (const message of device.encodeStatus(status(state, extra), { target })) {
        wire.push(message);
        const snapshot = tracker.snapshot();
        const decodedStatus = cloud.decodeStatus(
          { address: message.address, payload: message.payload },
          {
            target: cloudTarget,
            machineId: DID,
            previous: { state: snapshot.state, update: snapshot.update },
          },
        );
        if (decodedStatus === null) continue;
        const result = await tracker.ingest(decodedStatus);
        expect(result.accepted, result.accepted ? '' : result.error.message).toBe(true);
      }
    }
    return { tracker, wire };
  }

  const HAPPY: UpdateState[] = [
    'available',
    'downloading',
    'downloaded',
    'verifying',
    'installing',
    'installed',
    'committed',
  ];

  it('follows a whole update to committed (only e=1 and the clear are on the wire)', async () => {
    const { tracker, wire } = await follow(HAPPY);
    expect(wire).toEqual([sent('[{"n":"e","v":1},{"n":"i","vs":"fa8884d2"}]', false), CLEAR]);
    expect(tracker.state).toBe('committed');
    expect(tracker.snapshot().current).toMatchObject({ id: 'fa8884d2' });
  });

  it('ends in install_failed for a corrupt archive (I6)', async () => {
    const { tracker } = await follow([
      'available',
      'downloading',
      'downloaded',
      'installing',
      'install_failed',
    ]);
    expect(tracker.state).toBe('install_failed');
    expect(tracker.snapshot().lastError).toMatchObject({ code: 'INSTALL', message: 'can not apply' });
  });

  it('ends in download_failed for want of space (I4), then follows the retry to committed', async () => {
    const space = {
      name: 'InsufficientSpaceError',
      code: 'DOWNLOAD',
      message: 'full',
      retryable: false,
    } as const;
    const { tracker } = await follow(['available', ['download_failed', { error: space }]]);
    expect(tracker.state).toBe('download_failed');
    expect(tracker.snapshot().lastError).toMatchObject({ message: 'not enough space' });

    // The order stayed retained: at its next wake the device retries, and succeeds.
    const snapshot = tracker.snapshot();
    const retried = cloud.decodeStatus(onOta('[{"n":"e","v":1},{"n":"i","vs":"fa8884d2"}]'), {
      target: cloudTarget,
      machineId: DID,
      previous: { state: snapshot.state, update: snapshot.update },
    });
    expect((await tracker.ingest(retried)).accepted).toBe(true);
    expect(tracker.state).toBe('committed');
  });

  it('ends in canceled for e=3', async () => {
    const { tracker } = await follow(['available', 'downloading', 'canceled']);
    expect(tracker.state).toBe('canceled');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const fileId = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
const fileType = fc.constantFrom('.tar', '.tar.gz');
const size = fc.integer({ min: 1, max: 2 ** 40 });
type Record_ = Record<string, unknown>;
const orderRecords = fc
  .record({ fileId, fileType, size })
  .map(({ fileId: i, fileType: t, size: s }): Record_[] => [
    { n: 'e', v: 0 },
    { n: 'i', vs: i },
    { n: 't', vs: t },
    { n: 's', v: s },
  ]);

/** A valid order with exactly one thing broken that makes it no order. */
const brokenOrder = fc
  .tuple(
    orderRecords,
    fc.constantFrom(
      ['drop', 1],
      ['drop', 2],
      ['drop', 3],
      ['drop', 0],
      ['set', 0, { n: 'e', v: 4 }],
      ['set', 0, { n: 'e', vs: '0' }],
      ['set', 0, { n: 'e', v: -1 }],
      ['set', 1, { n: 'i', v: 7 }],
      ['set', 1, { n: 'i', vs: '' }],
      ['set', 1, { n: 'i', vs: '../boot' }],
      ['set', 1, { n: 'i', vs: 'a/b' }],
      ['set', 1, { n: 'i', vs: 'x'.repeat(129) }],
      ['set', 2, { n: 't', vs: 'tar' }],
      ['set', 2, { n: 't', vs: '.tar/../x' }],
      ['set', 2, { n: 't', v: 1 }],
      ['set', 3, { n: 's', v: 0 }],
      ['set', 3, { n: 's', v: -5 }],
      ['set', 3, { n: 's', v: 1.5 }],
      ['set', 3, { n: 's', vs: '3987' }],
      ['set', 3, { n: 's', v: 2 ** 60 }],
      ['dup', 1],
      ['dup', 3],
      ['must-understand', 2],
    ) as fc.Arbitrary<[string, number, Record_?]>,
  )
  .map(([records, [how, at, replacement]]) => {
    const copy = records.map((record) => ({ ...record }));
    if (how === 'drop') copy.splice(at, 1);
    if (how === 'set') copy[at] = replacement!;
    if (how === 'dup') copy.push({ ...copy[at]! });
    if (how === 'must-understand') copy[at] = { ...copy[at]!, x_: 1 };
    return JSON.stringify(copy);
  });

const anyPayload = fc.oneof(
  fc.string(),
  fc.uint8Array({ maxLength: 300 }),
  fc.json().map((json) => json),
  fc.jsonValue().map((value) => JSON.stringify([value, { n: 'e', v: 0 }])),
  orderRecords.map((records) => JSON.stringify(records)),
  fc.constantFrom(
    '{',
    '[]',
    'null',
    '"__proto__"',
    '{"__proto__":{}}',
    '[{"__proto__":{"n":"e","v":0}}]',
    '\u0000',
    '1e999',
    `[${'['.repeat(5000)}`,
  ),
  fc.integer({ min: 4097, max: 20_000 }).map((length) => `[${' '.repeat(length)}]`),
);

describe('properties', () => {
  it('decodeOrder: any payload decodes or is a typed MANIFEST_INVALID without the key', () => {
    fc.assert(
      fc.property(anyPayload, (payload) => {
        const result = typedOutcome(() => device.decodeOrder(onOta(payload), { target }));
        if (result?.value) expect(JSON.stringify(result.value)).not.toContain(DK);
      }),
      RUNS,
    );
  });

  it('decodeOrder and decodeStatus: any message value (null, numbers, wrong payload types) is typed', () => {
    const anyMessage = fc.oneof(
      fc.anything(),
      fc.record({
        address: fc.oneof(fc.string(), fc.constant(OTA_TOPIC), fc.anything()),
        payload: fc.anything(),
      }),
    );
    fc.assert(
      fc.property(anyMessage, (message) => {
        typedOutcome(() => device.decodeOrder(message as InboundMessage, { target }));
        typedOutcome(() =>
          cloud.decodeStatus(message as InboundMessage, { target: cloudTarget, machineId: DID }),
        );
      }),
      RUNS,
    );
  });

  it('decodeOrder: a valid order decodes to its file id and size', () => {
    fc.assert(
      fc.property(orderRecords, (records) => {
        const { value } = device.decodeOrder(onOta(JSON.stringify(records)), { target });
        expect(value).toMatchObject({
          id: records[1]!.vs,
          artifacts: [{ size: records[3]!.v, name: `${records[1]!.vs}${records[2]!.vs}` }],
        });
      }),
      RUNS,
    );
  });

  it('decodeOrder: an order with one required field broken is refused, never taken as an order', () => {
    fc.assert(
      fc.property(brokenOrder, (payload) => {
        let result: unknown;
        try {
          result = device.decodeOrder(onOta(payload), { target });
        } catch (error) {
          expect(isOtaError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
          expect((error as Error).message).not.toContain(DK);
          return;
        }
        // Only a broken event id may turn an order into something else; never into an order.
        expect((result as { value: unknown }).value, payload).toBeNull();
      }),
      RUNS,
    );
  });

  it('decodeStatus: any payload gives a status, null, or a typed MANIFEST_INVALID', () => {
    fc.assert(
      fc.property(anyPayload, (payload) => {
        const result = typedOutcome(() =>
          cloud.decodeStatus(onOta(payload), { target, machineId: DID, at: AT }),
        );
        if (result)
          expect([
            'committed',
            'canceled',
            'install_failed',
            'download_failed',
            'verify_failed',
            'check_failed',
            'rolled_back',
          ]).toContain(result.state);
      }),
      RUNS,
    );
  });

  it('decodeStatus: a status with one field broken is refused', () => {
    const brokenStatus = fc
      .tuple(
        fileId,
        fc.constantFrom<Record_[]>(
          [{ n: 'e', v: 1 }],
          [
            { n: 'e', v: 5 },
            { n: 'i', vs: 'ID' },
          ],
          [
            { n: 'e', v: 1 },
            { n: 'i', v: 1 },
          ],
          [
            { n: 'e', v: 1 },
            { n: 'i', vs: 'a b' },
          ],
          [
            { n: 'e', v: 2 },
            { n: 'i', vs: 'ID' },
            { n: 'm', v: 3 },
          ],
          [
            { n: 'e', v: 2 },
            { n: 'i', vs: 'ID' },
            { n: 'm', vs: 'x'.repeat(513) },
          ],
          [
            { n: 'e', vs: '1' },
            { n: 'i', vs: 'ID' },
          ],
          [
            { n: 'e', v: 1 },
            { n: 'i', vs: 'ID' },
            { n: 'e', v: 2 },
          ],
        ),
      )
      .map(([id, records]) =>
        JSON.stringify(records.map((record) => (record.vs === 'ID' ? { ...record, vs: id } : record))),
      );
    fc.assert(
      fc.property(brokenStatus, (payload) => {
        refusal(() => cloud.decodeStatus(onOta(payload), { target, machineId: DID }));
      }),
      RUNS,
    );
  });

  it('status round trip: every state the device reports reads back as the same state', () => {
    fc.assert(
      fc.property(
        fileId,
        fc.constantFrom<UpdateState>(
          'committed',
          'canceled',
          'check_failed',
          'download_failed',
          'verify_failed',
          'install_failed',
          'rolled_back',
        ),
        (id, state) => {
          const messages = device.encodeStatus(status(state, { updateId: id }), { target });
          const states = messages
            .map((message) =>
              cloud.decodeStatus(onOta(message.payload), { target: cloudTarget, machineId: DID }),
            )
            .filter((value) => value !== null)
            .map((value) => [value.state, value.updateId]);
          expect(states).toEqual([[state, id]]);
        },
      ),
      RUNS,
    );
  });

  it('no thrown message ever contains the device key, whatever the target or message', () => {
    const secretTargets = fc.constantFrom<unknown>(
      { ...target, deviceId: 'a/b' },
      { ...target, baseUrl: `https://user:${DK}@example.com` },
      { ...target, baseUrl: `http://example.com/?dk=${DK}` },
      { ...target, baseUrl: `not a url ${DK}` },
      { ...target, deviceKey: `${DK}\u0000` },
      { ...target, deviceKey: DK.repeat(20) },
    );
    fc.assert(
      fc.property(secretTargets, anyPayload, (bad, payload) => {
        const calls = [
          () => device.decodeOrder(onOta(payload), { target: bad as insighIo.Target }),
          () => device.encodeStatus(status('committed'), { target: bad as insighIo.Target }),
          () => cloud.encodeOrder({ id: 'x', version: '1', artifacts: [] }, bad as insighIo.Target),
          () => cloud.decodeStatus(onOta(payload), { target: bad as insighIo.Target, machineId: DID }),
        ];
        for (const call of calls) {
          const error = refusal(call);
          expect(error.message).not.toContain(DK);
        }
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 100) },
    );
  });
});
