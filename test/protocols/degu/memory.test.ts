/**
 * Degu orders that build on earlier ones (docs/protocols/degu.md, "Deltas, versions and what the
 * device remembers"): a shadow delta carries only the desired keys that differ from `reported`
 * and a `version`, so `decodeOrder` remembers the shadow version and the desired state it last
 * saw (`OrderDecoding.memory`), ignores a delta that is not newer, and completes a delta from
 * what it remembers. Every document here is one the shadow service model produces, as AWS would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { degu, type InboundMessage, type JsonValue, type UpdateRef } from '../../../src/index.js';
import { shadowModel } from '../../../src/testing/index.js';

const { protocol } = degu;
const THING = 'A1B2C3D4E5F60718';
const target = { thingName: THING };
const PREFIX = `$aws/things/${THING}/shadow`;
const T = 1_591_057_529;
const RUNS = Number(process.env.OTAKIT_PROPERTY_RUNS ?? 60);

const URL_LATEST = 'https://example.com/latest/main.py';
const CONFIG_URL = 'https://example.com/CONFIG';
const MD5 = (digit: string) => digit.repeat(32);
const BOOT = {
  state: { reported: { script_user_ver: MD5('0'), config_user_ver: 'none', firmware_system_ver: MD5('f') } },
};

const message = (kind: degu.ShadowTopicKind, document: unknown): InboundMessage => ({
  address: `${PREFIX}/${kind}`,
  payload: JSON.stringify(document),
});

/** The shadow service model, keeping every delta it published (by version). */
class Service {
  stored: shadowModel.StoredShadow | undefined;
  #clock = T;

  /** Applies a request; returns the delta AWS publishes, and a partial one (only the keys written). */
  update(request: object): { delta?: InboundMessage; partial?: InboundMessage; version: number } {
    const result = shadowModel.applyUpdate(this.stored, request, { timestamp: ++this.#clock });
    if (!result.ok) throw new Error(result.error.message);
    this.stored = result.shadow;
    const out: { delta?: InboundMessage; partial?: InboundMessage; version: number } = {
      version: result.shadow.version,
    };
    if (result.delta === undefined) return out;
    out.delta = message('update/delta', result.delta);
    // A delta need not carry every differing key: one carrying only the keys this update wrote
    // (a `*_ver`-only update gives a `*_ver`-only delta).
    const written = (request as { state: { desired?: Record<string, unknown> } }).state.desired ?? {};
    const state = Object.fromEntries(Object.entries(result.delta.state).filter(([key]) => key in written));
    if (Object.keys(state).length > 0) out.partial = message('update/delta', { ...result.delta, state });
    return out;
  }

  get(): InboundMessage {
    const got = shadowModel.getShadow(this.stored, target, { timestamp: this.#clock });
    return got.ok ? message('get/accepted', got.accepted) : message('get/rejected', got.error);
  }
}

/** A device agent as the contract describes it: memory persisted (as JSON) and passed back. */
class Device {
  memory: JsonValue | undefined;
  current: UpdateRef | null = null;

  receive(inbound: InboundMessage) {
    const decoded = protocol.device.decodeOrder(inbound, {
      target,
      current: this.current,
      ...(this.memory === undefined ? {} : { memory: this.memory }),
    });
    // What a store keeps: plain JSON, read back after a restart.
    if (decoded.memory !== undefined) this.memory = JSON.parse(JSON.stringify(decoded.memory)) as JsonValue;
    return decoded;
  }
}

const order = (desired: Record<string, string | null>) => ({ state: { desired } });

describe('Degu deltas and the version they carry', () => {
  it('a *_ver-only delta takes the URL from the desired state of /get/accepted', () => {
    const service = new Service();
    service.update(BOOT);
    service.update(order({ script_user: URL_LATEST, script_user_ver: MD5('a') }));
    const device = new Device();
    const first = device.receive(service.get());
    expect(first.value?.id).toBe(`degu:script_user=${MD5('a')}`);
    device.current = { id: first.value!.id, version: first.value!.version };

    // Same URL, new file behind it: the operator writes only the MD5.
    const { partial } = service.update(order({ script_user_ver: MD5('b') }));
    expect(JSON.parse(partial!.payload as string).state).toEqual({ script_user_ver: MD5('b') });
    const { value, lost } = device.receive(partial!);
    expect(lost).toEqual([]);
    expect(value).toEqual({
      id: `degu:script_user=${MD5('b')}`,
      version: MD5('b'),
      artifacts: [{ url: URL_LATEST, md5: MD5('b'), target: 'script', name: 'main.py' }],
    });
  });

  it('a *_ver-only delta takes the URL from an earlier delta, and from memory after a restart', () => {
    const service = new Service();
    service.update(BOOT);
    const device = new Device();
    const first = device.receive(
      service.update(order({ script_user: URL_LATEST, script_user_ver: MD5('a') })).partial!,
    );
    expect(first.value?.artifacts[0]?.url).toBe(URL_LATEST);
    expect(first.memory).toBeDefined();

    // Restart: a new agent with only what the store kept.
    const restarted = new Device();
    restarted.memory = JSON.parse(JSON.stringify(device.memory)) as JsonValue;
    const { value } = restarted.receive(service.update(order({ script_user_ver: MD5('c') })).partial!);
    expect(value?.artifacts).toEqual([{ url: URL_LATEST, md5: MD5('c'), target: 'script', name: 'main.py' }]);
  });

  it('ignores a delta older than the last one seen, keeping what it remembers', () => {
    const service = new Service();
    service.update(BOOT);
    const v2 = service.update(order({ script_user: URL_LATEST, script_user_ver: MD5('a') }));
    const v3 = service.update(order({ script_user_ver: MD5('b') }));
    const device = new Device();
    expect(device.receive(v3.delta!).value?.version).toBe(MD5('b'));
    const remembered = device.memory;

    const stale = device.receive(v2.delta!);
    expect(stale.value).toBeNull();
    expect(stale.lost).toEqual([{ field: 'version', reason: expect.stringContaining('stale delta') }]);
    expect(stale.memory).toBeUndefined(); // keep what was remembered
    expect(device.memory).toEqual(remembered);
    // The same delta twice (QoS 1 may redeliver): the second is not newer either.
    expect(device.receive(v3.delta!).value).toBeNull();
  });

  it('out of order: the newest order wins, whatever the arrival order', () => {
    const service = new Service();
    service.update(BOOT);
    const v2 = service.update(order({ script_user: URL_LATEST, script_user_ver: MD5('a') }));
    const v3 = service.update(order({ script_user_ver: MD5('b') }));
    const v4 = service.update(order({ config_user: CONFIG_URL, config_user_ver: MD5('c') }));
    const device = new Device();
    device.receive(service.get()); // boot: the whole shadow at version 4
    for (const late of [v2, v3, v4]) expect(device.receive(late.partial!).value).toBeNull();
    const v5 = service.update(order({ config_user_ver: MD5('d') }));
    const { value } = device.receive(v5.partial!);
    expect(value?.id).toBe(`degu:script_user=${MD5('b')},config_user=${MD5('d')}`);
    expect(value?.artifacts.map((artifact) => artifact.url)).toEqual([URL_LATEST, CONFIG_URL]);
  });

  it('an order written whole (as encodeOrder writes it) replaces the remembered one', () => {
    const service = new Service();
    service.update(BOOT);
    const device = new Device();
    const script = {
      id: 'x',
      version: '1',
      artifacts: [{ url: URL_LATEST, md5: MD5('a'), target: 'script' as const }],
    };
    const config = {
      id: 'y',
      version: '2',
      artifacts: [{ url: CONFIG_URL, md5: MD5('c'), target: 'config' as const }],
    };
    for (const manifest of [script, config]) {
      const [request] = protocol.cloud.encodeOrder(manifest, target).value;
      const published = service.update(JSON.parse(request!.payload) as object);
      for (const delta of [published.delta!, published.partial!]) {
        const fresh = new Device();
        fresh.memory = device.memory;
        const { value } = fresh.receive(delta);
        // The update named as everyone who reads the whole desired names it.
        const desired = service.stored!.state.desired as degu.DeguOrder;
        expect(value?.id).toBe(degu.orderId(degu.desiredItems(desired)));
      }
      device.receive(published.delta!);
    }
  });

  it('/get/accepted replaces what was remembered; a 404 forgets it', () => {
    const service = new Service();
    service.update(BOOT);
    service.update(order({ script_user: URL_LATEST, script_user_ver: MD5('a') }));
    const device = new Device();
    device.receive(service.get());
    expect(device.memory).toMatchObject({ version: 2 });
    expect(device.receive(message('get/rejected', { code: 404, message: 'No shadow' })).memory).toBeNull();
    // Nothing remembered: a *_ver-only delta has no URL and says so.
    const { value, lost } = device.receive(service.update(order({ script_user_ver: MD5('b') })).partial!);
    expect(value).toBeNull();
    expect(lost.map((loss) => loss.field)).toEqual(['desired.script_user']);
  });

  it('does not order again what /get/accepted said the device runs; a delta naming an item by URL only takes its MD5 from memory', () => {
    const service = new Service();
    service.update(BOOT);
    service.update(order({ script_user: URL_LATEST, script_user_ver: MD5('0') }));
    const device = new Device();
    expect(device.receive(service.get()).value).toBeNull(); // reported 000…: nothing to do
    // The delta the model publishes: the script URL (never reported) and the new config keys.
    const { delta } = service.update(order({ config_user: CONFIG_URL, config_user_ver: MD5('c') }));
    expect(Object.keys(JSON.parse(delta!.payload as string).state)).toEqual([
      'script_user',
      'config_user',
      'config_user_ver',
    ]);
    const { value } = device.receive(delta!);
    expect(value?.artifacts.map((artifact) => artifact.target)).toEqual(['config']);
    expect(value?.id).toBe(`degu:script_user=${MD5('0')},config_user=${MD5('c')}`);
  });

  it('memory that is not Degu memory is ignored and replaced, never a crash', () => {
    const service = new Service();
    service.update(BOOT);
    const { delta } = service.update(order({ script_user: URL_LATEST, script_user_ver: MD5('a') }));
    for (const memory of [
      42,
      'x',
      [],
      { version: -1 },
      { version: 1, desired: { script_user: 'ftp://x' } },
    ]) {
      const decoded = protocol.device.decodeOrder(delta!, { target, memory: memory as JsonValue });
      expect(decoded.value?.id).toBe(`degu:script_user=${MD5('a')}`);
      expect(decoded.lost).toEqual([{ field: 'memory', reason: expect.stringContaining('ignored') }]);
      expect(decoded.memory).toMatchObject({ version: 2 });
    }
  });

  it('property: in order, every delta decodes as the whole shadow does; in any order, only newer ones count', () => {
    const md5 = fc.constantFrom(MD5('1'), MD5('2'), MD5('3'), MD5('4'));
    const write = fc.oneof(
      fc.record({ script_user_ver: md5 }),
      fc.record({ config_user_ver: md5 }),
      fc.record({ script_user: fc.constantFrom(URL_LATEST, 'https://e.com/s2.py'), script_user_ver: md5 }),
      fc.record({ config_user: fc.constantFrom(CONFIG_URL, 'https://e.com/C2'), config_user_ver: md5 }),
    );
    fc.assert(
      fc.property(fc.array(write, { minLength: 1, maxLength: 6 }), fc.boolean(), (drawn, partial) => {
        // Partial deltas come from updates that wrote only MD5s; the model's deltas from any update.
        const writes = partial
          ? drawn.map((desired) =>
              Object.fromEntries(Object.entries(desired).filter(([key]) => key.endsWith('_ver'))),
            )
          : drawn;
        const service = new Service();
        service.update(BOOT);
        service.update(
          order({
            script_user: URL_LATEST,
            script_user_ver: MD5('9'),
            config_user: CONFIG_URL,
            config_user_ver: MD5('8'),
          }),
        );
        const inOrder = new Device();
        inOrder.receive(service.get());
        const deltas: InboundMessage[] = [];
        for (const desired of writes) {
          const published = service.update(order(desired));
          const delta = partial ? published.partial : published.delta;
          if (delta === undefined) continue;
          deltas.push(delta);
          const whole = protocol.device.decodeOrder(service.get(), { target }).value;
          expect(inOrder.receive(delta).value).toEqual(whole);
        }
        // Any arrival order: a delta counts only when newer than all before it.
        const shuffled = deltas.slice().reverse();
        const device = new Device();
        let newest = -1;
        for (const delta of shuffled) {
          const version = (JSON.parse(delta.payload as string) as { version: number }).version;
          const { lost } = device.receive(delta);
          expect(lost.some((loss) => loss.field === 'version')).toBe(version <= newest);
          newest = Math.max(newest, version);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
