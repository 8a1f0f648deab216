import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createUpdateMachine,
  degu,
  type InboundMessage,
  isOtaError,
  UPDATE_STATES,
  type UpdateStatus,
  type WireMessage,
} from '../../../src/index.js';
import { deguEmulator, shadowModel } from '../../../src/testing/index.js';
import fixture from '../contract-fixtures/degu.js';

const { protocol } = degu;
const THING = 'A1B2C3D4E5F60718';
const target = { thingName: THING };
const PREFIX = `$aws/things/${THING}/shadow`;
const T = 1_591_057_529;
const RUNS = { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300) };

const FIRMWARE_MD5 = 'c4ff012243272695c13fa5b2f9a62b1e';
const HELLO_MD5 = '100e360cc768f15a35ed9ddf05e354ce';
const MAIN_A_MD5 = 'c19cde3ac637be761b372ec031a4de72';
const MAIN_B_MD5 = '4f3e01b7dc12348ebbd1acfe11ef6328';
const MAIN_B_URL =
  'https://raw.githubusercontent.com/open-degu/degu-micropython-samples/master/basic/remote_update/main_B.py';
/** The boot report of vector D1, byte for byte. */
const D1_REPORT =
  '{"state":{"reported":{"script_user_ver":"100e360cc768f15a35ed9ddf05e354ce","config_user_ver":"none","firmware_system_ver":"c4ff012243272695c13fa5b2f9a62b1e","firmware_ver":"1.0.0-rc1"}}}';
const MAIN_B_ID = `degu:script_user=${MAIN_B_MD5}`;
const MAIN_A_ID = `degu:script_user=${MAIN_A_MD5}`;
const D3_MANIFEST = {
  id: MAIN_B_ID,
  version: MAIN_B_MD5,
  artifacts: [{ url: MAIN_B_URL, md5: MAIN_B_MD5, target: 'script' as const, name: 'main.py' }],
};

const text = (value: string) => new TextEncoder().encode(value);
const message = (kind: degu.ShadowTopicKind, document: unknown): InboundMessage => ({
  address: `${PREFIX}/${kind}`,
  payload: typeof document === 'string' ? document : JSON.stringify(document),
});
const status = (state: UpdateStatus['state'], updateId: string | null = MAIN_B_ID): UpdateStatus => ({
  machineId: THING,
  updateId,
  version: updateId === null ? null : MAIN_B_MD5,
  state,
  previous: null,
  at: '2024-01-01T00:00:00.000Z',
});

/** Throws unless `run` throws a MANIFEST_INVALID; returns that error. */
function manifestError(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (isOtaError(error, 'MANIFEST_INVALID')) return error;
    throw error;
  }
  throw new Error('expected a MANIFEST_INVALID error');
}

/** A shadow service in memory, to carry messages between the two sides as AWS would. */
class Shadow {
  stored: shadowModel.StoredShadow | undefined;
  #clock = T;

  /** Applies an `/update` message; returns what AWS publishes (delta for the device, documents for the cloud). */
  publish(wire: WireMessage): { delta?: InboundMessage; documents: InboundMessage } {
    expect(wire).toMatchObject({ channel: 'mqtt', address: `${PREFIX}/update` });
    const result = shadowModel.applyUpdate(this.stored, wire.payload, { timestamp: ++this.#clock });
    if (!result.ok) throw new Error(result.error.message);
    this.stored = result.shadow;
    return {
      ...(result.delta === undefined ? {} : { delta: message('update/delta', result.delta) }),
      documents: message('update/documents', result.documents),
    };
  }

  /** What a device's `/get` returns. */
  get(): InboundMessage {
    const got = shadowModel.getShadow(this.stored, target, { timestamp: this.#clock });
    return got.ok ? message('get/accepted', got.accepted) : message('get/rejected', got.error);
  }
}

describe('degu.protocol: identity and target', () => {
  it('keeps the descriptor and exposes the target schema', () => {
    expect(protocol.name).toBe('degu');
    expect(protocol.integrity).toBe('md5');
    expect(protocol.statusMapping).toBe(degu.statusMapping);
    expect(protocol.targetSchema.parse({ thingName: THING, shadowName: 'ota' })).toEqual({
      thingName: THING,
      shadowName: 'ota',
    });
    expect(Object.keys(protocol.jsonSchemas)).toContain('updateDocuments');
    expect(protocol.secrets.queryParameters).toContain('x-amz-customauthorizer-signature');
  });

  it.each([
    [{}, 'thingName'],
    [{ thingName: 'a/b' }, 'thingName'],
    [{ thingName: '#' }, 'thingName'],
    [{ thingName: 'x'.repeat(129) }, 'thingName'],
    [{ thingName: THING, shadowName: 'a+b' }, 'shadowName'],
    [{ thingName: THING, shadowName: 's'.repeat(65) }, 'shadowName'],
    [null, '(root)'],
  ])('refuses the target %j, naming %s', (bad, field) => {
    const error = manifestError(() => protocol.device.orderSources(bad as never));
    expect(error.message).toContain(field);
    manifestError(() => protocol.cloud.encodeWithdrawal(bad as never));
  });

  it('refuses a target with a credential in it without echoing the credential', () => {
    const secret = 'AKIAsecret/Signature=9f8e7d';
    const error = manifestError(() =>
      protocol.cloud.statusSources({ thingName: THING, password: secret } as never),
    );
    expect(error.message).toMatch(/no unknown keys/);
    expect(error.message).not.toContain(secret);
  });

  it('addresses the classic shadow, or a named one', () => {
    expect(protocol.device.orderSources(target)).toEqual([
      { channel: 'mqtt', filter: `${PREFIX}/update/delta`, qos: 1 },
      { channel: 'mqtt', filter: `${PREFIX}/get/accepted`, qos: 1 },
      { channel: 'mqtt', filter: `${PREFIX}/get/rejected`, qos: 1 },
    ]);
    expect(protocol.cloud.statusSources({ thingName: THING, shadowName: 'ota' })).toEqual([
      { channel: 'mqtt', filter: `${PREFIX}/name/ota/update/documents`, qos: 1 },
    ]);
  });
});

describe('degu.protocol.device (vectors D1-D15)', () => {
  const delta = (state: object) => message('update/delta', { state, version: 2, timestamp: T });
  const getAccepted = (desired: object | undefined, reported: object) =>
    message('get/accepted', {
      state: { ...(desired ? { desired } : {}), reported },
      version: 3,
      timestamp: T,
    });

  it('D3: the delta of the main_B order decodes to one script artifact', () => {
    const { value, lost } = protocol.device.decodeOrder(
      delta({ script_user: MAIN_B_URL, script_user_ver: MAIN_B_MD5 }),
      { target, current: { id: MAIN_A_ID, version: MAIN_A_MD5 } },
    );
    expect(lost).toEqual([]);
    expect(value).toEqual(D3_MANIFEST);
  });

  it('D3: the same order read from /get/accepted, against the reported main_A', () => {
    const { value } = protocol.device.decodeOrder(
      getAccepted({ script_user: MAIN_B_URL, script_user_ver: MAIN_B_MD5 }, { script_user_ver: MAIN_A_MD5 }),
      { target },
    );
    expect(value).toEqual(D3_MANIFEST);
  });

  it('D4: desired MD5 equal to the reported one: no order', () => {
    const order = { script_user: MAIN_B_URL, script_user_ver: MAIN_B_MD5 };
    const decoded = protocol.device.decodeOrder(getAccepted(order, { script_user_ver: MAIN_B_MD5 }), {
      target,
    });
    expect(decoded).toEqual({
      value: null,
      lost: [],
      memory: { version: 3, desired: order, reported: { script_user_ver: MAIN_B_MD5 } },
    });
  });

  it('D5: a URL without its *_ver is no order (the delta AWS keeps publishing for the URL keys)', () => {
    expect(protocol.device.decodeOrder(delta({ script_user: MAIN_B_URL }), { target }).value).toBeNull();
  });

  it('D6: an uppercase desired MD5 of what the device runs is no order (hardened), also from a delta', () => {
    const upper = { script_user: MAIN_B_URL, script_user_ver: MAIN_B_MD5.toUpperCase() };
    const current = { id: MAIN_B_ID, version: MAIN_B_MD5 };
    expect(protocol.device.decodeOrder(delta(upper), { target, current }).value).toBeNull();
    expect(protocol.device.decodeOrder(delta(upper), { target }).value?.artifacts[0]?.md5).toBe(MAIN_B_MD5);
  });

  it('D8: config and firmware differing: artifacts in install order config → firmware', () => {
    const config = { config_user: 'https://e.com/CONFIG', config_user_ver: 'a'.repeat(32) };
    const firmware = { firmware_system: 'https://e.com/degu.bin', firmware_system_ver: 'b'.repeat(32) };
    const { value } = protocol.device.decodeOrder(delta({ ...firmware, ...config }), { target });
    expect(value?.artifacts.map((artifact) => artifact.target)).toEqual(['config', 'firmware']);
    expect(value?.id).toBe(`degu:config_user=${'a'.repeat(32)},firmware_system=${'b'.repeat(32)}`);
  });

  it('D11: a withdrawn order reads as no order on the /get the device makes', () => {
    const shadow = new Shadow();
    shadow.publish({ channel: 'mqtt', address: `${PREFIX}/update`, payload: D1_REPORT });
    const [order] = protocol.cloud.encodeOrder(D3_MANIFEST, target).value;
    expect(protocol.device.decodeOrder(shadow.publish(order!).delta!, { target }).value).toEqual(D3_MANIFEST);
    const [withdrawal] = protocol.cloud.encodeWithdrawal(target);
    expect(JSON.parse(withdrawal!.payload)).toEqual({
      state: {
        desired: {
          script_user: null,
          script_user_ver: null,
          config_user: null,
          config_user_ver: null,
          firmware_system: null,
          firmware_system_ver: null,
        },
      },
    });
    expect(shadow.publish(withdrawal!).delta).toBeUndefined(); // AWS publishes no delta for it
    expect(protocol.device.decodeOrder(shadow.get(), { target })).toMatchObject({
      value: null,
      lost: [],
      memory: { desired: {} },
    });
  });

  it('D15: /get on a thing without a shadow is no order; any other refusal is an error', () => {
    const notFound = new Shadow().get();
    expect(notFound.address).toBe(`${PREFIX}/get/rejected`);
    expect(protocol.device.decodeOrder(notFound, { target }).value).toBeNull();
    const forbidden = message('get/rejected', { code: 403, message: 'Forbidden' });
    expect(manifestError(() => protocol.device.decodeOrder(forbidden, { target })).message).toMatch(/code/);
  });

  it('refuses messages that are not orders for this shadow, naming the address', () => {
    for (const address of [
      `${PREFIX}/update/accepted`,
      `$aws/things/OTHER/shadow/update/delta`,
      `${PREFIX}/name/ota/update/delta`,
      'devices/x/ota',
    ]) {
      const error = manifestError(() => protocol.device.decodeOrder({ address, payload: '{}' }, { target }));
      expect(error.issues[0]?.path).toBe('address');
    }
  });

  it('D1: the boot report says what the device runs (as far as its update names it), then asks for the order', () => {
    const current = { id: `degu:script_user=${HELLO_MD5},firmware_system=${FIRMWARE_MD5}`, version: null };
    expect(protocol.device.bootReport(current, { target })).toEqual([
      {
        channel: 'mqtt',
        address: `${PREFIX}/update`,
        payload: `{"state":{"reported":{"script_user_ver":"${HELLO_MD5}","firmware_system_ver":"${FIRMWARE_MD5}"}}}`,
        qos: 1,
      },
      { channel: 'mqtt', address: `${PREFIX}/get`, payload: '', qos: 1 },
    ]);
    expect(protocol.device.bootReport(null, { target })).toEqual([
      { channel: 'mqtt', address: `${PREFIX}/get`, payload: '', qos: 1 },
    ]);
  });

  it('D3: committed reports the new MD5 to /update; every other state is silent, as on the sensor', () => {
    expect(protocol.device.encodeStatus(status('committed'), { target })).toEqual([
      {
        channel: 'mqtt',
        address: `${PREFIX}/update`,
        payload: `{"state":{"reported":{"script_user_ver":"${MAIN_B_MD5}"}}}`,
        qos: 1,
      },
    ]);
    for (const state of UPDATE_STATES.filter((state) => state !== 'committed')) {
      expect(protocol.device.encodeStatus(status(state), { target }), state).toEqual([]);
    }
    // An update id that is not a Degu order names no MD5s.
    expect(protocol.device.encodeStatus(status('committed', 'fw-2'), { target })).toEqual([]);
    manifestError(() =>
      protocol.device.encodeStatus({ ...status('committed'), state: 'done' } as never, { target }),
    );
  });
});

describe('degu.protocol.cloud (vectors)', () => {
  it('D3: the order the operator publishes, with the other items cleared', () => {
    const { value, lost } = protocol.cloud.encodeOrder(D3_MANIFEST, target);
    expect(lost).toEqual([]);
    expect(value).toHaveLength(1);
    expect(value[0]).toMatchObject({ channel: 'mqtt', address: `${PREFIX}/update`, qos: 1 });
    expect(JSON.parse(value[0]!.payload)).toEqual({
      state: {
        desired: {
          script_user: MAIN_B_URL,
          script_user_ver: MAIN_B_MD5,
          config_user: null,
          config_user_ver: null,
          firmware_system: null,
          firmware_system_ver: null,
        },
      },
    });
  });

  it('lists what the order cannot carry, and refuses what it cannot express', () => {
    const { lost } = protocol.cloud.encodeOrder(
      { ...D3_MANIFEST, id: 'release-7', version: '7.0.0', expiresAt: '2030-01-01T00:00:00Z' },
      target,
    );
    expect(lost.map((loss) => loss.field).sort()).toEqual(['expiresAt', 'id', 'version']);
    const error = manifestError(() =>
      protocol.cloud.encodeOrder(
        { id: 'p', version: '1', artifacts: [{ url: MAIN_B_URL, target: 'package' }] },
        target,
      ),
    );
    expect(error.issues[0]?.path).toBe('artifacts[0].target');
  });

  const documents = (desired: object | undefined, reported: object) => {
    const shadow = new Shadow();
    shadow.publish({
      channel: 'mqtt',
      address: `${PREFIX}/update`,
      payload: JSON.stringify({ state: { ...(desired ? { desired } : {}), reported } }),
    });
    return shadow.publish({ channel: 'mqtt', address: `${PREFIX}/update`, payload: D1_REPORT }).documents;
  };
  const context = { target, machineId: THING, at: '2024-01-01T00:00:00.000Z' };

  it('D1 under the D3 order: out_of_sync reads as available, stamped with the shadow time', () => {
    const decoded = protocol.cloud.decodeStatus(
      documents({ script_user: MAIN_B_URL, script_user_ver: MAIN_B_MD5 }, {}),
      context,
    );
    expect(decoded).toEqual({
      machineId: THING,
      updateId: MAIN_B_ID,
      version: MAIN_B_MD5,
      state: 'available',
      previous: null,
      at: new Date((T + 2) * 1000).toISOString(),
    });
  });

  it('D1 with the order already run: in_sync reads as committed', () => {
    const decoded = protocol.cloud.decodeStatus(
      documents({ script_user: MAIN_B_URL, script_user_ver: HELLO_MD5.toUpperCase() }, {}),
      context,
    );
    expect(decoded?.state).toBe('committed');
  });

  it('D1 without any order: idle', () => {
    expect(protocol.cloud.decodeStatus(documents(undefined, {}), context)).toMatchObject({
      state: 'idle',
      updateId: null,
    });
  });

  it('reads a bare report against the update the tracker follows', () => {
    const previous = {
      state: 'available' as const,
      update: { id: `degu:script_user=${HELLO_MD5}`, version: 'v' },
    };
    const accepted = message('update/accepted', {
      state: JSON.parse(D1_REPORT).state,
      version: 4,
      timestamp: T,
    });
    expect(protocol.cloud.decodeStatus(accepted, { ...context, previous })).toMatchObject({
      state: 'committed',
      version: 'v',
      previous: 'available',
    });
    const request = message('update', D1_REPORT);
    const following = { state: 'available' as const, update: { id: MAIN_B_ID, version: MAIN_B_MD5 } };
    expect(protocol.cloud.decodeStatus(request, { ...context, previous: following })).toMatchObject({
      state: 'available',
      updateId: MAIN_B_ID,
      at: context.at,
    });
  });

  it('is null for what is not a status: an order echo, a delta, another thing', () => {
    const echo = message('update/accepted', {
      state: { desired: { script_user: MAIN_B_URL } },
      version: 2,
      timestamp: T,
    });
    expect(protocol.cloud.decodeStatus(echo, context)).toBeNull();
    expect(protocol.cloud.decodeStatus(message('update/delta', '{}'), context)).toBeNull();
    expect(
      protocol.cloud.decodeStatus(
        { address: '$aws/things/OTHER/shadow/update', payload: D1_REPORT },
        context,
      ),
    ).toBeNull();
    expect(protocol.cloud.decodeStatus({ address: 'channels/1/messages', payload: '' }, context)).toBeNull();
  });

  it('refuses a malformed status naming the field', () => {
    const bad = message('update/documents', {
      current: { state: { reported: { script_user_ver: 'nope' } }, version: 1 },
      timestamp: T,
    });
    expect(manifestError(() => protocol.cloud.decodeStatus(bad, context)).message).toMatch(
      /current\.state\.reported\.script_user_ver/,
    );
    const late = message('update/accepted', { state: { reported: {} }, version: 1, timestamp: 1e20 });
    expect(manifestError(() => protocol.cloud.decodeStatus(late, context)).issues[0]?.path).toBe('timestamp');
  });
});

describe('degu.protocol end to end: shadow model, emulated sensor, real tracker', () => {
  const scriptOld = text("print('old')\n");
  const scriptNew = text("print('new')\n");
  const image = text('signed image v1');
  const newUrl = 'https://example.com/main.py';

  async function track() {
    const tracker = createUpdateMachine({ id: THING, role: 'tracker' });
    const ingest = async (inbound: InboundMessage) => {
      const snapshot = tracker.snapshot();
      const decoded = protocol.cloud.decodeStatus(inbound, {
        target,
        machineId: THING,
        previous: { state: snapshot.state, update: snapshot.update },
      });
      if (decoded === null) return null;
      const result = await tracker.ingest(decoded);
      expect(result.accepted, JSON.stringify(result)).toBe(true);
      return decoded.state;
    };
    return { tracker, ingest };
  }

  it('success: order → available → the sensor updates and reboots → committed', async () => {
    const shadow = new Shadow();
    const { tracker, ingest } = await track();
    let files: deguEmulator.DeguFiles = { script: scriptOld, config: null, firmware: image };
    const boot = () =>
      deguEmulator.simulateBoot(files, {
        desired: shadow.stored?.state.desired as degu.DeguDesired | undefined,
        fetch: async () => scriptNew,
        firmwareVersion: '1.0.0-rc1',
      });

    // First boot, no order yet: the report is no news to an idle tracker.
    const first = await boot();
    const published = {
      channel: 'mqtt' as const,
      address: `${PREFIX}/update`,
      payload: JSON.stringify(first.report),
    };
    expect(await ingest(shadow.publish(published).documents)).toBe('idle');

    const manifest = {
      id: 'release-2',
      version: '2',
      artifacts: [{ url: newUrl, md5: degu.md5Ver(scriptNew), target: 'script' as const }],
    };
    const [order] = protocol.cloud.encodeOrder(manifest, target).value;
    const { delta, documents } = shadow.publish(order!);
    expect(await ingest(documents)).toBe('available');

    // The device reads the order the way the sensor will act on it.
    const { value: decoded } = protocol.device.decodeOrder(delta!, { target });
    expect(decoded?.artifacts).toEqual([
      { url: newUrl, md5: degu.md5Ver(scriptNew), target: 'script', name: 'main.py' },
    ]);

    const second = await boot();
    expect(second.rebooted).toBe(true);
    files = second.files;
    const third = await boot();
    const report = {
      channel: 'mqtt' as const,
      address: `${PREFIX}/update`,
      payload: JSON.stringify(third.report),
    };
    expect(await ingest(shadow.publish(report).documents)).toBe('committed');
    expect(tracker.snapshot()).toMatchObject({ state: 'committed', update: { id: decoded!.id } });

    // The device side's own committed report says the same.
    const [own] = protocol.device.encodeStatus(
      { ...status('committed', decoded!.id), version: decoded!.version },
      { target },
    );
    expect(await ingest(shadow.publish(own!).documents)).toBe('committed');
  });

  it('failure: a wrong MD5 is refused silently (available stays), the withdrawal ends it canceled', async () => {
    const shadow = new Shadow();
    const { tracker, ingest } = await track();
    shadow.publish({ channel: 'mqtt', address: `${PREFIX}/update`, payload: D1_REPORT });
    const [order] = protocol.cloud.encodeOrder(D3_MANIFEST, target).value;
    expect(await ingest(shadow.publish(order!).documents)).toBe('available');

    // D7, hardened: the served file does not match script_user_ver; nothing is installed.
    const boot = await deguEmulator.simulateBoot(
      { script: scriptOld, config: null, firmware: image },
      {
        desired: shadow.stored?.state.desired as degu.DeguDesired,
        fetch: async () => scriptNew,
        firmwareVersion: '1.0.0-rc1',
      },
    );
    expect(isOtaError(boot.error, 'INTEGRITY')).toBe(true);
    expect(protocol.device.encodeStatus(status('verify_failed'), { target })).toEqual([]);
    const report = {
      channel: 'mqtt' as const,
      address: `${PREFIX}/update`,
      payload: JSON.stringify(boot.report),
    };
    expect(await ingest(shadow.publish(report).documents)).toBe('available');

    const [withdrawal] = protocol.cloud.encodeWithdrawal(target);
    expect(await ingest(shadow.publish(withdrawal!).documents)).toBe('canceled');
    expect(tracker.snapshot()).toMatchObject({ state: 'canceled', update: { id: MAIN_B_ID } });
  });

  it('a replaced order ends the one followed (canceled), then the new one is available', async () => {
    const shadow = new Shadow();
    const { tracker, ingest } = await track();
    shadow.publish({ channel: 'mqtt', address: `${PREFIX}/update`, payload: D1_REPORT });
    expect(
      await ingest(shadow.publish(protocol.cloud.encodeOrder(D3_MANIFEST, target).value[0]!).documents),
    ).toBe('available');
    const other = {
      ...D3_MANIFEST,
      id: 'x',
      version: 'y',
      artifacts: [{ ...D3_MANIFEST.artifacts[0]!, md5: MAIN_A_MD5 }],
    };
    const { documents } = shadow.publish(protocol.cloud.encodeOrder(other, target).value[0]!);
    expect(await ingest(documents)).toBe('canceled');
    expect(await ingest(documents)).toBe('available');
    expect(tracker.snapshot().update?.id).toBe(MAIN_A_ID);
  });
});

describe('degu.protocol decoders: typed outcome for any input, refusal of broken orders', () => {
  const TOPICS = [
    'update/delta',
    'get/accepted',
    'get/rejected',
    'update/documents',
    'update/accepted',
    'update',
  ].map((kind) => `${PREFIX}/${kind}`);
  const md5 = fc.stringMatching(/^[0-9a-f]{32}$/);
  const notMd5 = fc.string().filter((value) => !/^[0-9a-fA-F]{32}$/.test(value));
  const shadowish = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        state: fc.oneof(
          fc.jsonValue(),
          fc.dictionary(
            fc.constantFrom('script_user', 'script_user_ver', 'desired', 'reported', '__proto__'),
            fc.jsonValue(),
          ),
        ),
        version: fc.oneof(fc.nat(), fc.jsonValue()),
        timestamp: fc.oneof(fc.nat(), fc.jsonValue()),
        code: fc.oneof(fc.constant(404), fc.jsonValue()),
        message: fc.string(),
        current: fc.jsonValue(),
      },
      { requiredKeys: [] },
    ),
  );
  const payload = fc.oneof(
    fc.string(),
    fc.uint8Array(),
    shadowish.map((value) => JSON.stringify(value)),
    fc.constant('['.repeat(5000)),
    fc.constant(`{"state":{"script_user":"${'a'.repeat(200_000)}"}}`),
  );
  const inbound = fc.record({ address: fc.oneof(fc.constantFrom(...TOPICS), fc.string()), payload });

  function typedOutcome(run: () => unknown): boolean {
    try {
      run();
      return true;
    } catch (error) {
      return isOtaError(error, 'MANIFEST_INVALID') && error.issues.length > 0;
    }
  }

  it('decodeOrder: a conversion or MANIFEST_INVALID, for any message or any value', () => {
    fc.assert(
      fc.property(fc.oneof(inbound, fc.anything()), (input) =>
        typedOutcome(() => protocol.device.decodeOrder(input as InboundMessage, { target })),
      ),
      RUNS,
    );
  });

  it('decodeStatus: a status, null or MANIFEST_INVALID, for any message or any value', () => {
    fc.assert(
      fc.property(fc.oneof(inbound, fc.anything()), (input) =>
        typedOutcome(() => {
          const decoded = protocol.cloud.decodeStatus(input as InboundMessage, { target, machineId: THING });
          if (decoded !== null)
            expect(['idle', 'available', 'committed', 'canceled']).toContain(decoded.state);
        }),
      ),
      RUNS,
    );
  });

  it('decodeOrder refuses an order with one field broken, naming it, never echoing a signed URL', () => {
    const secret = 'f00dfacecafe1234deadbeef';
    const signed = `https://bucket.s3.amazonaws.com/main.py?X-Amz-Signature=${secret}`;
    const broken = fc.oneof(
      notMd5.map((bad) => ({
        field: 'state.script_user_ver',
        state: { script_user: signed, script_user_ver: bad },
      })),
      md5.chain((good) =>
        fc
          .constantFrom('ftp://e.com/main.py', 'file:///etc/passwd', 'not a url', `javascript:${secret}`)
          .map((bad) => ({ field: 'state.script_user', state: { script_user: bad, script_user_ver: good } })),
      ),
      md5.map((good) => ({
        field: 'state.firmware_system',
        state: { firmware_system: 7, firmware_system_ver: good, script_user: signed },
      })),
    );
    fc.assert(
      fc.property(broken, fc.boolean(), ({ field, state }, asGet) => {
        const inboundMessage = asGet
          ? message('get/accepted', { state: { desired: state }, version: 1, timestamp: T })
          : message('update/delta', { state, version: 1, timestamp: T });
        const error = manifestError(() => protocol.device.decodeOrder(inboundMessage, { target }));
        const path = asGet ? field.replace('state.', 'state.desired.') : field;
        expect(error.issues.map((issue) => issue.path)).toContain(path);
        expect(error.message).not.toContain(secret);
      }),
      RUNS,
    );
  });

  it('decodeOrder refuses a delta or shadow without its version or timestamp', () => {
    fc.assert(
      fc.property(
        md5,
        fc.constantFrom('version', 'timestamp'),
        fc.constantFrom('update/delta', 'get/accepted'),
        (good, missing, kind) => {
          const order = { script_user: MAIN_B_URL, script_user_ver: good };
          const document: Record<string, unknown> = {
            state: kind === 'update/delta' ? order : { desired: order },
            version: 1,
            timestamp: T,
          };
          delete document[missing];
          const error = manifestError(() =>
            protocol.device.decodeOrder(message(kind as degu.ShadowTopicKind, document), { target }),
          );
          expect(error.issues.map((issue) => issue.path)).toContain(missing);
        },
      ),
      RUNS,
    );
  });

  it('decodeStatus refuses a report with a broken MD5, and reads every valid one', () => {
    fc.assert(
      fc.property(fc.oneof(md5, notMd5, fc.constant('none')), md5, (reported, ordered) => {
        const document = {
          current: {
            state: {
              desired: { script_user: MAIN_B_URL, script_user_ver: ordered },
              reported: { script_user_ver: reported },
            },
            version: 2,
          },
          timestamp: T,
        };
        const run = () =>
          protocol.cloud.decodeStatus(message('update/documents', document), { target, machineId: THING });
        if (reported === 'none' || /^[0-9a-f]{32}$/.test(reported)) {
          expect(run()?.state).toBe(reported === ordered ? 'committed' : 'available');
        } else {
          expect(manifestError(run).issues[0]?.path).toBe('current.state.reported.script_user_ver');
        }
      }),
      RUNS,
    );
  });

  it('encodeOrder → shadow → decodeOrder gives back every artifact of any order', { timeout: 30_000 }, () => {
    const item = (target: 'script' | 'config' | 'firmware') =>
      fc.record({ url: fc.webUrl(), md5, target: fc.constant(target) });
    fc.assert(
      fc.property(
        fc.tuple(fc.option(item('script')), fc.option(item('config')), fc.option(item('firmware'))),
        (picked) => {
          const artifacts = picked.filter((entry) => entry !== null);
          fc.pre(artifacts.length > 0);
          const shadow = new Shadow();
          shadow.publish({ channel: 'mqtt', address: `${PREFIX}/update`, payload: D1_REPORT });
          const [order] = protocol.cloud.encodeOrder({ id: 'u', version: '1', artifacts }, target).value;
          shadow.publish(order!);
          const { value } = protocol.device.decodeOrder(shadow.get(), { target });
          const expected = artifacts.filter((artifact) => ![HELLO_MD5, FIRMWARE_MD5].includes(artifact.md5));
          const received = value?.artifacts.map(({ url, md5: digest, target: kind }) => ({
            url,
            md5: digest,
            target: kind,
          }));
          expect(received ?? []).toEqual(expected);
        },
      ),
      RUNS,
    );
  });
});

describe('Degu contract fixture', () => {
  it('delivers the cloud order so the device decodes the same manifest, and a withdrawal as none', () => {
    const order = protocol.cloud.encodeOrder(fixture.manifest, fixture.target).value;
    const [received] = fixture.deliverOrder(order, fixture.target);
    expect(received?.address).toBe(`${PREFIX}/update/delta`);
    expect(protocol.device.decodeOrder(received!, { target }).value).toEqual(fixture.manifest);
    const withdrawn = fixture.deliverOrder(protocol.cloud.encodeWithdrawal(target), fixture.target);
    expect(withdrawn.map((inbound) => protocol.device.decodeOrder(inbound, { target }).value)).toEqual([
      null,
    ]);
  });

  it('delivers the committed report so the cloud reads committed', () => {
    const messages = protocol.device.encodeStatus(status('committed'), { target });
    const [received] = fixture.deliverStatus(messages, fixture.target);
    expect(received?.address).toBe(`${PREFIX}/update/documents`);
    expect(protocol.cloud.decodeStatus(received!, { target, machineId: THING })?.state).toBe('committed');
  });
});

describe('Degu module hygiene', () => {
  const folder = join(import.meta.dirname, '../../../src/protocols/degu');

  it('is browser-safe and reaches outside its folder only for the shared contract, core and manifest', () => {
    for (const file of readdirSync(folder)) {
      const source = readFileSync(join(folder, file), 'utf8');
      expect(source, file).not.toMatch(/from '(node:|mqtt)|\bBuffer\.|require\(/);
      for (const [, path] of source.matchAll(/^(?:import|export)[^;]*? from '([^']+)';/gms)) {
        expect(path, `${file} imports ${path}`).toMatch(
          /^(zod|spark-md5|\.\/[a-z-]+\.js|\.\.\/(contract|conversion|losses|signed-statement|update-status)\.js|\.\.\/\.\.\/(core|manifest)\/[a-z-]+\.js)$/,
        );
      }
    }
  });

  it('cites its own documentation page, not the research notes', () => {
    for (const file of readdirSync(folder)) {
      expect(readFileSync(join(folder, file), 'utf8'), file).not.toMatch(/PROTOCOLS\.md|§/);
    }
  });
});
