/**
 * One behavioural suite for every fleet store: the same tests run against MemoryFleetStore
 * (test/cloud/fleet-memory.test.ts) and PostgresFleetStore on a real server
 * (test/pg/fleet-postgres.test.ts). Each test gets a fresh, empty store; `another()` opens a second
 * instance over the same data (a second service instance, or the same service after a restart).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  Fleet,
  type FleetAnomaly,
  type FleetStore,
  type FleetTransitionEvent,
  type StoredDevice,
} from '../../src/cloud/fleet/index.js';
import {
  connhex,
  isOtaError,
  thingsBoard,
  type UpdateState,
  type UpdateStatusInput,
} from '../../src/index.js';

export interface StoreHarness {
  /** A fresh, empty store, and a way to open another instance over the same data. */
  fresh(): Promise<{ store: FleetStore; another(): Promise<FleetStore> }>;
}

let clockTime = Date.parse('2026-03-01T00:00:00.000Z');
/** Time moves 1 ms per reading, so history timestamps are distinct and ordered. */
const clock = {
  now: () => (clockTime += 1),
  setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export function status(
  deviceId: string,
  state: UpdateState,
  extra: Partial<UpdateStatusInput> = {},
): UpdateStatusInput {
  return {
    machineId: deviceId,
    updateId: state === 'idle' ? null : 'u1',
    version: state === 'idle' ? null : '1.1.0',
    state,
    previous: null,
    at: '2026-03-01T00:00:00.000Z',
    ...extra,
  };
}

const FULL_UPDATE: UpdateState[] = [
  'checking',
  'available',
  'downloading',
  'downloaded',
  'verifying',
  'installing',
  'installed',
  'committed',
  'idle',
];

const connhexTarget = (initId: string) => ({ initId, domain: 'example.com' });
const heartbeat = (word: string, extra: Record<string, string> = {}) => ({
  address: 'heartbeat.ota.service',
  payload: JSON.stringify({
    current_version: '1.0.0',
    latest_version: '1.1.0',
    status: word,
    error: '',
    last_checked: '',
    ...extra,
  }),
});

export function fleetStoreSuite(name: string, harness: StoreHarness): void {
  describe(`Fleet on ${name}`, () => {
    const opened: FleetStore[] = [];
    async function open() {
      const { store, another } = await harness.fresh();
      opened.push(store);
      return {
        store,
        fleet: new Fleet({ store, clock }),
        another: async () => {
          const second = await another();
          opened.push(second);
          return second;
        },
      };
    }
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    it('follows a device through a whole update: snapshot, counts, history, events after the store', async () => {
      const { fleet, store } = await open();
      const seen: string[] = [];
      const stored: string[] = [];
      fleet.on('transition', (event: FleetTransitionEvent) => {
        seen.push(`${event.deviceId}:${event.from}->${event.to}`);
      });
      fleet.on('device', (snapshot) => {
        // Emitted once the change is stored: reading the store now sees it.
        stored.push(snapshot.state);
        void store.device('gw-1').then((device) => {
          expect(device?.revision).toBeGreaterThanOrEqual(snapshot.revision);
        });
      });
      for (const state of FULL_UPDATE) {
        const result = await fleet.ingest('gw-1', status('gw-1', state));
        expect(result).toMatchObject({ deviceId: 'gw-1', outcome: 'applied', state, anomaly: null });
      }
      const device = await fleet.device('gw-1');
      expect(device).toMatchObject({
        deviceId: 'gw-1',
        machineId: 'gw-1',
        role: 'tracker',
        state: 'idle',
        current: { id: 'u1', version: '1.1.0' },
        lastOutcome: { state: 'committed' },
        revision: FULL_UPDATE.length,
        protocol: null,
      });
      expect(seen).toEqual(
        FULL_UPDATE.map((state, index) => `gw-1:${index === 0 ? 'idle' : FULL_UPDATE[index - 1]}->${state}`),
      );
      expect(stored).toEqual(FULL_UPDATE);
      const history = await fleet.history('gw-1');
      expect(history.map((entry) => entry.to)).toEqual(FULL_UPDATE);
      expect(history[2]).toMatchObject({
        deviceId: 'gw-1',
        from: 'available',
        to: 'downloading',
        updateId: 'u1',
      });
      expect(Date.parse(history[8]!.at)).toBeGreaterThan(Date.parse(history[0]!.at));
      expect((await fleet.history('gw-1', { limit: 2 })).map((entry) => entry.to)).toEqual([
        'committed',
        'idle',
      ]);
      const snapshot = await fleet.snapshot();
      expect(snapshot.total).toBe(1);
      expect(snapshot.counts.idle).toBe(1);
      expect(snapshot.devices.map((d) => d.deviceId)).toEqual(['gw-1']);
      expect(snapshot.next).toBeNull();
    });

    it('records the states a device did not report as skipped', async () => {
      const { fleet } = await open();
      await fleet.ingest('gw-1', status('gw-1', 'downloading'));
      const result = await fleet.ingest('gw-1', status('gw-1', 'committed'));
      expect(result).toMatchObject({
        outcome: 'applied',
        state: 'committed',
        skipped: ['downloaded', 'verifying', 'installing', 'installed'],
      });
      const history = await fleet.history('gw-1');
      expect(history.at(-1)).toMatchObject({
        from: 'downloading',
        to: 'committed',
        skipped: ['downloaded', 'verifying', 'installing', 'installed'],
      });
    });

    it('a repeated status is a duplicate: no new transition, but its progress is stored and emitted', async () => {
      const { fleet, another } = await open();
      const progress: number[] = [];
      fleet.on('progress', (event) => progress.push(event.bytes));
      await fleet.ingest(
        'gw-1',
        status('gw-1', 'downloading', { progress: { bytes: 0, total: 100, bytesPerSecond: 0 } }),
      );
      const again = await fleet.ingest(
        'gw-1',
        status('gw-1', 'downloading', { progress: { bytes: 40, total: 100, bytesPerSecond: 10 } }),
      );
      expect(again).toMatchObject({ outcome: 'duplicate', state: 'downloading', anomaly: null });
      const same = await fleet.ingest('gw-1', status('gw-1', 'downloading'));
      expect(same.outcome).toBe('duplicate');
      expect(progress).toEqual([40]);
      expect((await fleet.history('gw-1')).map((entry) => entry.to)).toEqual(['downloading']);
      // Another instance reads the progress from the store.
      const other = new Fleet({ store: await another() });
      expect((await other.device('gw-1'))?.progress).toEqual({ bytes: 40, total: 100, bytesPerSecond: 10 });
      expect(await fleet.anomalies()).toEqual([]);
    });

    it('an idle heartbeat from a new device makes it known (idle), without a transition', async () => {
      const { fleet } = await open();
      const result = await fleet.ingest('gw-9', status('gw-9', 'idle'));
      expect(result.outcome).toBe('duplicate');
      expect(await fleet.device('gw-9')).toMatchObject({ state: 'idle', revision: 1 });
      expect((await fleet.counts()).idle).toBe(1);
      expect(await fleet.history('gw-9')).toEqual([]);
    });

    it('a late status of an earlier state is an out_of_order anomaly, and the state stays', async () => {
      const { fleet } = await open();
      const anomalies: FleetAnomaly[] = [];
      fleet.on('anomaly', (anomaly) => anomalies.push(anomaly));
      await fleet.ingest('gw-1', status('gw-1', 'installing'));
      const late = await fleet.ingest(
        'gw-1',
        status('gw-1', 'downloading', { at: '2026-02-28T23:59:00.000Z' }),
      );
      expect(late).toMatchObject({ outcome: 'refused', state: 'installing' });
      expect(late.anomaly).toMatchObject({
        deviceId: 'gw-1',
        kind: 'out_of_order',
        from: 'installing',
        to: 'downloading',
        updateId: 'u1',
        reportedUpdateId: 'u1',
        reportedAt: '2026-02-28T23:59:00.000Z',
        error: { code: 'STATE' },
      });
      expect(anomalies).toEqual([late.anomaly]);
      expect((await fleet.device('gw-1'))?.state).toBe('installing');
      // The next status in order is applied as if the late one never came.
      expect((await fleet.ingest('gw-1', status('gw-1', 'installed'))).outcome).toBe('applied');
    });

    it('an illegal transition is an anomaly with both states, never a crash', async () => {
      const { fleet } = await open();
      await fleet.ingest('gw-1', status('gw-1', 'installing'));
      const result = await fleet.ingest('gw-1', status('gw-1', 'canceled'));
      expect(result.anomaly).toMatchObject({
        kind: 'illegal_transition',
        from: 'installing',
        to: 'canceled',
      });
      expect(await fleet.anomalies({ deviceId: 'gw-1' })).toEqual([result.anomaly]);
      expect((await fleet.device('gw-1'))?.state).toBe('installing');
    });

    it('another update reported while one is under way is an update_mismatch', async () => {
      const { fleet } = await open();
      await fleet.ingest('gw-1', status('gw-1', 'downloading'));
      const result = await fleet.ingest('gw-1', status('gw-1', 'downloading', { updateId: 'u2' }));
      expect(result.anomaly).toMatchObject({
        kind: 'update_mismatch',
        from: 'downloading',
        updateId: 'u1',
        reportedUpdateId: 'u2',
      });
    });

    it('a malformed status or one for another device is an invalid_status; it creates no device', async () => {
      const { fleet } = await open();
      const garbage = await fleet.ingest('gw-1', { state: 'exploded', machineId: 'gw-1' });
      expect(garbage.anomaly).toMatchObject({
        kind: 'invalid_status',
        from: 'idle',
        to: null,
        error: { code: 'MANIFEST_INVALID' },
      });
      const stranger = await fleet.ingest('gw-1', status('gw-2', 'downloading'));
      expect(stranger.anomaly).toMatchObject({
        kind: 'invalid_status',
        to: 'downloading',
        error: { code: 'STATE' },
      });
      expect(await fleet.ingest('gw-1', null)).toMatchObject({ outcome: 'refused' });
      expect(await fleet.device('gw-1')).toBeUndefined();
      expect((await fleet.anomalies()).map((anomaly) => anomaly.kind)).toEqual([
        'invalid_status',
        'invalid_status',
        'invalid_status',
      ]);
      expect((await fleet.snapshot()).total).toBe(0);
    });

    it('decodes messages with the protocol, passing what it tracks as previous (Connhex heartbeats)', async () => {
      const { fleet } = await open();
      const target = connhexTarget('edge-7');
      for (const word of ['checking', 'update_available', 'downloading', 'update_ready', 'updating']) {
        const result = await fleet.ingestMessage(connhex.protocol, target, heartbeat(word));
        expect(result.outcome, word).toBe('applied');
      }
      // `updated` means committed only because the tracker follows an update (the `previous`).
      const done = await fleet.ingestMessage(
        connhex.protocol,
        target,
        heartbeat('updated', { current_version: '1.1.0' }),
      );
      expect(done).toMatchObject({ deviceId: 'edge-7', outcome: 'applied', state: 'committed' });
      const device = await fleet.device('edge-7');
      expect(device).toMatchObject({ protocol: 'connhex', current: { id: '1.1.0', version: '1.1.0' } });
      // A message that is not a status is ignored; one the codec refuses is an anomaly.
      expect(
        await fleet.ingestMessage(connhex.protocol, target, {
          address: 'heartbeat.ota.service',
          payload: '',
        }),
      ).toMatchObject({ outcome: 'ignored', state: 'committed' });
      const bad = await fleet.ingestMessage(connhex.protocol, target, heartbeat('exploded'));
      expect(bad.anomaly).toMatchObject({
        kind: 'invalid_status',
        protocol: 'connhex',
        error: { code: 'MANIFEST_INVALID' },
      });
      expect(bad.anomaly?.error.message).toContain('status');
    });

    it('needs a device id for a target that names none (ThingsBoard: only a token), never using the token', async () => {
      const { fleet } = await open();
      const target = { accessToken: 'tb-secret-token-1234' };
      const message = { address: 'v1/devices/me/telemetry', payload: '{"fw_state":"DOWNLOADING"}' };
      const refused = await fleet
        .ingestMessage(thingsBoard.protocol, target, message)
        .catch((error: unknown) => error);
      expect(isOtaError(refused, 'CONFIG')).toBe(true);
      expect(String((refused as Error).message)).not.toContain('tb-secret-token-1234');
      const result = await fleet.ingestMessage(thingsBoard.protocol, target, message, { deviceId: 'tb-1' });
      expect(result).toMatchObject({ deviceId: 'tb-1', outcome: 'applied', state: 'downloading' });
      expect(JSON.stringify(await fleet.snapshot())).not.toContain('tb-secret-token-1234');
    });

    it('refuses a bad device id with a typed error naming the field', async () => {
      const { fleet } = await open();
      for (const deviceId of ['', 'x'.repeat(257), 42 as unknown as string]) {
        const error = await fleet
          .ingest(deviceId, status('x', 'checking'))
          .catch((thrown: unknown) => thrown);
        expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
        expect((error as Error).message).toContain('deviceId');
      }
    });

    it('ingestBatch applies statuses in order per device, in one transaction, with results in order', async () => {
      const { fleet } = await open();
      const items = [];
      for (const state of ['downloading', 'downloaded', 'verifying'] as const) {
        for (const deviceId of ['b-1', 'b-2', 'b-3'])
          items.push({ deviceId, status: status(deviceId, state) });
      }
      items.push({ deviceId: 'b-2', status: status('b-2', 'checking') }); // out of order
      items.push({ deviceId: 'b-3', status: status('b-3', 'verifying') }); // duplicate
      const results = await fleet.ingestBatch(items);
      expect(results.map((result) => `${result.deviceId}:${result.outcome}:${result.state}`)).toEqual([
        'b-1:applied:downloading',
        'b-2:applied:downloading',
        'b-3:applied:downloading',
        'b-1:applied:downloaded',
        'b-2:applied:downloaded',
        'b-3:applied:downloaded',
        'b-1:applied:verifying',
        'b-2:applied:verifying',
        'b-3:applied:verifying',
        'b-2:refused:verifying',
        'b-3:duplicate:verifying',
      ]);
      expect((await fleet.counts()).verifying).toBe(3);
      expect((await fleet.device('b-2'))?.revision).toBe(1); // one write per device per batch
      expect((await fleet.history('b-2')).map((entry) => entry.to)).toEqual([
        'downloading',
        'downloaded',
        'verifying',
      ]);
      expect(await fleet.anomalies({ kind: 'out_of_order' })).toHaveLength(1);
      expect(await fleet.ingestBatch([])).toEqual([]);
      // Messages and statuses mix in one batch.
      const mixed = await fleet.ingestBatch([
        { protocol: connhex.protocol, target: connhexTarget('b-4'), message: heartbeat('downloading') },
        { deviceId: 'b-1', status: status('b-1', 'installing') },
      ]);
      expect(mixed.map((result) => result.state)).toEqual(['downloading', 'installing']);
    });

    it('queries devices by state, in pages ordered by id', async () => {
      const { fleet } = await open();
      const states: UpdateState[] = ['downloading', 'installing', 'downloading', 'committed', 'downloading'];
      await fleet.ingestBatch(
        states.map((state, index) => ({ deviceId: `d-${index}`, status: status(`d-${index}`, state) })),
      );
      expect((await fleet.devicesIn('downloading')).map((device) => device.deviceId)).toEqual([
        'd-0',
        'd-2',
        'd-4',
      ]);
      expect((await fleet.devicesIn(['installing', 'committed'])).map((device) => device.deviceId)).toEqual([
        'd-1',
        'd-3',
      ]);
      const first = await fleet.snapshot({ state: 'downloading', limit: 2 });
      expect(first.devices.map((device) => device.deviceId)).toEqual(['d-0', 'd-2']);
      expect(first.next).toBe('d-2');
      expect(first.total).toBe(5);
      expect(first.counts).toMatchObject({ downloading: 3, installing: 1, committed: 1, idle: 0 });
      const second = await fleet.snapshot({ state: 'downloading', limit: 2, after: first.next! });
      expect(second.devices.map((device) => device.deviceId)).toEqual(['d-4']);
      expect(second.next).toBeNull();
      expect(await fleet.devicesIn('canceled')).toEqual([]);
    });

    it('anomalies are listed newest first, filtered by device and kind', async () => {
      const { fleet } = await open();
      await fleet.ingest('a-1', status('a-1', 'installing'));
      await fleet.ingest('a-1', status('a-1', 'checking'));
      await fleet.ingest('a-2', { nonsense: true });
      await fleet.ingest('a-1', status('a-1', 'canceled'));
      expect((await fleet.anomalies()).map((a) => `${a.deviceId}:${a.kind}`)).toEqual([
        'a-1:illegal_transition',
        'a-2:invalid_status',
        'a-1:out_of_order',
      ]);
      expect((await fleet.anomalies({ deviceId: 'a-1' })).map((a) => a.kind)).toEqual([
        'illegal_transition',
        'out_of_order',
      ]);
      expect((await fleet.anomalies({ kind: 'invalid_status' })).map((a) => a.deviceId)).toEqual(['a-2']);
      expect(await fleet.anomalies({ limit: 1 })).toHaveLength(1);
    });

    it('reset forgets the tracked update and returns the device to idle', async () => {
      const { fleet } = await open();
      await fleet.ingest('gw-1', status('gw-1', 'installing'));
      const snapshot = await fleet.reset('gw-1');
      expect(snapshot).toMatchObject({ state: 'idle', update: null });
      expect((await fleet.history('gw-1')).at(-1)).toMatchObject({ from: 'installing', to: 'idle' });
      expect((await fleet.ingest('gw-1', status('gw-1', 'checking', { updateId: null }))).outcome).toBe(
        'applied',
      );
    });

    it('a listener that throws does not break ingestion', async () => {
      const { fleet } = await open();
      fleet.on('transition', () => {
        throw new Error('dashboard bug');
      });
      expect((await fleet.ingest('gw-1', status('gw-1', 'checking'))).outcome).toBe('applied');
      expect((await fleet.device('gw-1'))?.state).toBe('checking');
    });

    it('a restarted service (a new Fleet on the same store) sees every device and carries on', async () => {
      const { fleet, another } = await open();
      const states: UpdateState[] = [
        'checking',
        'downloading',
        'installing',
        'installed',
        'rolled_back',
        'committed',
      ];
      for (const [index, state] of states.entries())
        await fleet.ingest(`r-${index}`, status(`r-${index}`, state));
      await fleet.ingest('r-2', status('r-2', 'checking')); // an anomaly, kept too
      const restarted = new Fleet({ store: await another(), clock });
      const snapshot = await restarted.snapshot();
      expect(snapshot.devices.map((device) => device.state)).toEqual(states);
      expect(await restarted.anomalies()).toHaveLength(1);
      // The restarted fleet continues each update where the store left it: no anomaly.
      const next = await restarted.ingestBatch([
        { deviceId: 'r-1', status: status('r-1', 'downloaded') },
        { deviceId: 'r-2', status: status('r-2', 'installed') },
        { deviceId: 'r-3', status: status('r-3', 'committed') },
      ]);
      expect(next.map((result) => result.outcome)).toEqual(['applied', 'applied', 'applied']);
      expect(next.map((result) => result.skipped)).toEqual([[], [], []]);
    });

    it('two service instances ingesting interleaved statuses for the same devices lose nothing', async () => {
      const { fleet: first, another } = await open();
      const second = new Fleet({ store: await another(), clock });
      const devices = Array.from({ length: 12 }, (_, index) => `i-${String(index).padStart(2, '0')}`);
      // Each device's statuses alternate between the instances, in order; the devices run at once.
      await Promise.all(
        devices.map(async (deviceId, deviceIndex) => {
          for (const [step, state] of FULL_UPDATE.entries()) {
            const fleet = (step + deviceIndex) % 2 === 0 ? first : second;
            const result = await fleet.ingest(deviceId, status(deviceId, state));
            expect(result, `${deviceId} ${state}`).toMatchObject({ outcome: 'applied', skipped: [] });
          }
        }),
      );
      for (const deviceId of devices) {
        expect((await second.history(deviceId)).map((entry) => `${entry.from}->${entry.to}`)).toEqual(
          FULL_UPDATE.map((state, index) => `${index === 0 ? 'idle' : FULL_UPDATE[index - 1]}->${state}`),
        );
        expect(await first.device(deviceId)).toMatchObject({ state: 'idle', revision: FULL_UPDATE.length });
      }
      expect(await first.anomalies()).toEqual([]);
      expect((await second.counts()).idle).toBe(devices.length);
    });

    it('transactions on one device never interleave: concurrent writers from two instances lose no write', async () => {
      const { store, another } = await open();
      const other = await another();
      const record = (await seedRecord(store, 'lock-1')).record;
      const bump = (target: FleetStore) =>
        target.transact(['lock-1'], async (devices) => {
          const current = devices.get('lock-1')!;
          await new Promise((resolve) => setTimeout(resolve, 1)); // widen the window a race would need
          return {
            writes: {
              devices: [{ ...current, revision: current.revision + 1, record }],
              history: [],
              anomalies: [],
            },
            result: current.revision,
          };
        });
      const seen = await Promise.all(
        Array.from({ length: 20 }, (_, index) => bump(index % 2 === 0 ? store : other)),
      );
      expect(new Set(seen).size).toBe(20); // each read a different revision
      expect((await other.device('lock-1'))?.revision).toBe(21);
    });

    it('overlapping multi-device transactions in opposite orders do not deadlock', async () => {
      const { store, another } = await open();
      const other = await another();
      const { record } = await seedRecord(store, 'x-1');
      await seedRecord(store, 'x-2');
      const swap = (target: FleetStore, ids: string[]) =>
        target.transact(ids, async (devices) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          const writes = [...new Set(ids)].map((id) => ({
            ...devices.get(id)!,
            revision: devices.get(id)!.revision + 1,
            record,
          }));
          return { writes: { devices: writes, history: [], anomalies: [] }, result: undefined };
        });
      await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          index % 2 === 0 ? swap(store, ['x-1', 'x-2']) : swap(other, ['x-2', 'x-1', 'x-2']),
        ),
      );
      expect((await store.device('x-1'))?.revision).toBe(11);
      expect((await store.device('x-2'))?.revision).toBe(11);
    });

    it('a transaction is all or nothing: a failing work or a stale revision writes nothing', async () => {
      const { store, fleet } = await open();
      await fleet.ingest('t-1', status('t-1', 'downloading'));
      const stored = (await store.device('t-1'))!;
      await expect(
        store.transact(['t-1', 't-2'], async () => {
          throw new Error('work failed');
        }),
      ).rejects.toThrow('work failed');
      const stale = await store
        .transact(['t-1', 't-2'], async () => ({
          writes: {
            devices: [
              { ...stored, deviceId: 't-2', revision: 1 },
              { ...stored, revision: stored.revision }, // not one above the stored revision
            ],
            history: [
              {
                deviceId: 't-2',
                from: 'idle',
                to: 'downloading',
                at: new Date().toISOString(),
                updateId: 'u1',
              },
            ],
            anomalies: [],
          },
          result: undefined,
        }))
        .catch((error: unknown) => error);
      expect(isOtaError(stale, 'STORE')).toBe(true);
      expect(await store.device('t-2')).toBeUndefined();
      expect(await store.history('t-2')).toEqual([]);
      expect((await store.device('t-1'))?.revision).toBe(stored.revision);
      // The fleet carries on after a failed transaction.
      expect((await fleet.ingest('t-1', status('t-1', 'downloaded'))).outcome).toBe('applied');
    });

    it('the fleet notices a device written by another instance and reloads its tracker', async () => {
      const { fleet, another } = await open();
      const other = new Fleet({ store: await another(), clock });
      await fleet.ingest('s-1', status('s-1', 'downloading')); // fleet now caches s-1's tracker
      await other.ingest('s-1', status('s-1', 'downloaded'));
      await other.ingest('s-1', status('s-1', 'verifying'));
      // A stale tracker would see downloading -> installing (skipping two states); a fresh one does not.
      const result = await fleet.ingest('s-1', status('s-1', 'installing'));
      expect(result).toMatchObject({ outcome: 'applied', skipped: [] });
    });
  });
}

/** Stores a device through a fleet, for store-level tests that need a valid record. */
async function seedRecord(store: FleetStore, deviceId: string): Promise<StoredDevice> {
  await new Fleet({ store }).ingest(deviceId, status(deviceId, 'checking'));
  return (await store.device(deviceId))!;
}
