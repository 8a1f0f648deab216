/**
 * One behavioural suite for every rollout store: the same tests run against MemoryRolloutStore
 * (test/cloud/rollout-memory-store.test.ts) and PostgresRolloutStore on a real server
 * (test/pg/rollout-store.test.ts). Each test gets a fresh, empty store; `another()` opens a second
 * instance over the same data (a second orchestrator instance; in memory, the same store).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { normalizePlan } from '../../src/cloud/rollout/plan.js';
import type { RolloutStepContext, RolloutStore } from '../../src/cloud/rollout/store.js';
import type { RolloutCounts, RolloutDevice, RolloutRecord } from '../../src/cloud/rollout/types.js';
import { isOtaError, type Manifest } from '../../src/index.js';
import { manifest } from '../support/fixtures.js';

export interface RolloutStoreHarness {
  /** A fresh, empty store, and a way to open another instance over the same data. */
  fresh(): Promise<{ store: RolloutStore; another(): Promise<RolloutStore> }>;
}

export const T0 = Date.parse('2026-03-01T00:00:00.000Z');

let shared: Manifest | undefined;

/** A rollout record and its devices (all pending), waves of the given sizes, ids `<id>-d<n>`. */
export async function rolloutFixture(
  id: string,
  waveSizes: readonly number[],
): Promise<{ record: RolloutRecord; devices: RolloutDevice[] }> {
  shared ??= await manifest('u-rollout', '2.0.0');
  const total = waveSizes.reduce((sum, size) => sum + size, 0);
  const ids = Array.from({ length: total }, (_, index) => `${id}-d${index}`);
  const { plan } = normalizePlan({
    id,
    manifest: shared,
    devices: ids,
    waves: waveSizes.map((count) => ({ count })),
  });
  const at = new Date(T0).toISOString();
  const record: RolloutRecord = {
    format: 'otakit.rollout/1',
    id,
    plan,
    state: 'running',
    wave: 0,
    waveStartedAt: T0,
    waveSettledAt: null,
    tokens: 0,
    refilledAt: null,
    reason: null,
    baseline: null,
    createdAt: at,
    updatedAt: at,
    finishedAt: null,
    revision: 1,
  };
  const devices: RolloutDevice[] = [];
  for (const [wave, size] of waveSizes.entries()) {
    for (let index = 0; index < size; index++) {
      const position = devices.length;
      devices.push({
        deviceId: ids[position]!,
        wave,
        position,
        state: 'pending',
        attempts: 0,
        owner: null,
        dueAt: null,
        failure: null,
        error: null,
        updatedAt: T0,
        revision: 1,
      });
    }
  }
  return { record, devices };
}

/** `device` changed: one revision up, as a writer makes it. */
export function changed(device: RolloutDevice, changes: Partial<RolloutDevice>): RolloutDevice {
  return { ...device, updatedAt: device.updatedAt + 1, ...changes, revision: device.revision + 1 };
}

/** Counts with the zero entries dropped (a store may keep a state at 0 or leave it out). */
export function plainCounts(counts: RolloutCounts): RolloutCounts {
  const strip = <T extends Record<string, number | undefined>>(entries: T): T =>
    Object.fromEntries(Object.entries(entries).filter(([, n]) => n !== 0 && n !== undefined)) as T;
  return {
    byWave: Array.from(counts.byWave, (wave) => strip(wave ?? {})),
    failures: strip(counts.failures),
    failuresByWave: Array.from(counts.failuresByWave, (wave) => strip(wave ?? {})),
  };
}

/** A promise and its resolver, to hold a step open while another runs. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const positions = (devices: readonly RolloutDevice[]) => devices.map((device) => device.position);

/** Runs one step that claims per `claims` and writes nothing; returns the positions of each claim. */
async function claimOnly(
  store: RolloutStore,
  id: string,
  work: (context: RolloutStepContext) => Promise<RolloutDevice[][]>,
): Promise<number[][]> {
  const outcome = await store.step(id, { wait: true }, async (_rollout, context) => ({
    rollout: null,
    result: (await work(context)).map(positions),
  }));
  if (!outcome.held && outcome.found) return outcome.result;
  throw new Error(`step on ${id} did not run`);
}

/** Writes `changes` to claimed devices in one step (claiming them by state first). */
async function writeInStep(
  store: RolloutStore,
  id: string,
  edit: (device: RolloutDevice) => Partial<RolloutDevice> | null,
): Promise<void> {
  await store.step(id, { wait: true }, async (_rollout, context) => {
    const all = await context.claim({
      states: ['pending', 'dispatching', 'in_progress', 'retry_wait', 'succeeded', 'failed', 'timed_out'],
      limit: 1_000_000,
    });
    const writes: RolloutDevice[] = [];
    for (const device of all) {
      const change = edit(device);
      if (change !== null) writes.push(changed(device, change));
    }
    await context.write(writes);
    return { rollout: null, result: null };
  });
}

export function rolloutStoreConformance(name: string, harness: RolloutStoreHarness): void {
  describe(`rollout store conformance: ${name}`, () => {
    const opened: RolloutStore[] = [];
    async function open() {
      const { store, another } = await harness.fresh();
      opened.push(store);
      return {
        store,
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

    describe('create and read', () => {
      it('stores a rollout and its devices, and reads them back as stored', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('r1', [2, 3]);
        await store.create(record, devices);
        expect(await store.rollout('r1')).toEqual(record);
        expect(await store.devices('r1')).toEqual(devices);
        const byId = await store.devicesById('r1', ['r1-d4', 'nope', 'r1-d0']);
        expect([...byId.keys()]).toEqual(['r1-d4', 'r1-d0']);
        expect(byId.get('r1-d4')).toEqual(devices[4]);
        expect(plainCounts(await store.counts('r1'))).toEqual({
          byWave: [{ pending: 2 }, { pending: 3 }],
          failures: {},
          failuresByWave: [{}, {}],
        });
      });

      it('knows nothing of an unknown rollout', async () => {
        const { store } = await open();
        expect(await store.rollout('ghost')).toBeUndefined();
        expect(await store.devices('ghost')).toEqual([]);
        expect((await store.devicesById('ghost', ['a'])).size).toBe(0);
        expect(await store.counts('ghost')).toEqual({ byWave: [], failures: {}, failuresByWave: [] });
        expect(await store.settle('ghost', [])).toEqual([]);
        expect(
          await store.step('ghost', { wait: false }, async () => ({ rollout: null, result: 1 })),
        ).toEqual({
          held: false,
          found: false,
        });
        expect(await store.step('ghost', { wait: true }, async () => ({ rollout: null, result: 1 }))).toEqual(
          {
            held: false,
            found: false,
          },
        );
      });

      it('refuses a second rollout with the same id (STATE, naming it) and keeps the first whole', async () => {
        const { store, another } = await open();
        const first = await rolloutFixture('dup', [3]);
        await store.create(first.record, first.devices);
        const second = await rolloutFixture('dup', [5]);
        const other = await another();
        for (const target of [store, other]) {
          const error = await target.create(second.record, second.devices).catch((e: unknown) => e);
          expect(isOtaError(error, 'STATE')).toBe(true);
          expect((error as Error).message).toContain('"dup"');
        }
        expect(await store.devices('dup')).toEqual(first.devices);
        expect(await store.rollouts()).toHaveLength(1);
      });

      it('refuses devices with a repeated id or out of order, storing nothing', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('bad', [3]);
        const repeated = devices.map((device, index) =>
          index === 2 ? { ...device, deviceId: 'bad-d0' } : device,
        );
        const error = await store.create(record, repeated).catch((e: unknown) => e);
        expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
        expect((error as Error).message).toContain('[2].deviceId');
        const shuffled = [devices[1]!, devices[0]!, devices[2]!];
        expect(
          isOtaError(await store.create(record, shuffled).catch((e: unknown) => e), 'MANIFEST_INVALID'),
        ).toBe(true);
        expect(await store.rollout('bad')).toBeUndefined();
        await store.create(record, devices);
        expect(await store.devices('bad')).toHaveLength(3);
      });

      it('lists rollouts newest first, by state when asked', async () => {
        const { store } = await open();
        for (const [id, state] of [
          ['a', 'running'],
          ['b', 'paused'],
          ['c', 'running'],
          ['d', 'completed'],
        ] as const) {
          const { record, devices } = await rolloutFixture(id, [1]);
          await store.create({ ...record, state }, devices);
        }
        expect((await store.rollouts()).map((record) => record.id)).toEqual(['d', 'c', 'b', 'a']);
        expect((await store.rollouts({ states: ['running', 'paused'] })).map((record) => record.id)).toEqual([
          'c',
          'b',
          'a',
        ]);
        expect(await store.rollouts({ states: [] })).toEqual([]);
      });

      it('hands out copies: changing what it returned changes nothing stored', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('copy', [2]);
        await store.create(record, devices);
        devices[0]!.state = 'failed';
        record.state = 'aborted';
        const read = (await store.rollout('copy'))!;
        read.plan.waves[0]!.size = 99;
        const [device] = await store.devices('copy', { limit: 1 });
        device!.state = 'succeeded';
        expect((await store.rollout('copy'))?.state).toBe('running');
        expect((await store.rollout('copy'))?.plan.waves[0]?.size).toBe(2);
        expect((await store.devices('copy')).map((d) => d.state)).toEqual(['pending', 'pending']);
      });
    });

    describe('steps', () => {
      it('runs work on the record, writes the record it returns (revision + 1) and its result', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('s1', [2]);
        await store.create(record, devices);
        const outcome = await store.step('s1', { wait: false }, async (rollout) => {
          expect(rollout).toEqual(record);
          return {
            rollout: { ...rollout, wave: 1, tokens: 2.5, revision: rollout.revision + 1 },
            result: 'done',
          };
        });
        expect(outcome).toEqual({ held: false, found: true, result: 'done' });
        expect(await store.rollout('s1')).toEqual({ ...record, wave: 1, tokens: 2.5, revision: 2 });
        // `null`: the record stays as it is.
        await store.step('s1', { wait: false }, async () => ({ rollout: null, result: null }));
        expect((await store.rollout('s1'))?.revision).toBe(2);
        expect((await store.rollouts({ states: ['paused'] })).length).toBe(0);
        await store.step('s1', { wait: true }, async (rollout) => ({
          rollout: { ...rollout, state: 'paused', revision: rollout.revision + 1 },
          result: null,
        }));
        expect((await store.rollouts({ states: ['paused'] })).map((r) => r.id)).toEqual(['s1']);
      });

      it('claims in plan order, up to the limit, never twice in one step', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('c1', [4, 6]);
        await store.create(record, devices);
        const claims = await claimOnly(store, 'c1', async (context) => [
          await context.claim({ states: ['pending'], limit: 3 }),
          await context.claim({ states: ['pending'], limit: 2 }),
          await context.claim({ states: ['pending'], limit: 0 }),
          await context.claim({ states: ['succeeded'], limit: 5 }),
          await context.claim({ states: ['pending'], limit: 100 }),
          await context.claim({ states: ['pending'], limit: 100 }),
        ]);
        expect(claims).toEqual([[0, 1, 2], [3, 4], [], [], [5, 6, 7, 8, 9], []]);
        // Claims not written are released when the step ends: the next step claims them again.
        expect(
          await claimOnly(store, 'c1', async (context) => [
            await context.claim({ states: ['pending'], limit: 2 }),
          ]),
        ).toEqual([[0, 1]]);
      });

      it('claims across states merged in plan order, with the maxWave and dueBy filters', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('c2', [3, 3, 3]);
        await store.create(record, devices);
        // 1 and 4: in_progress, due at T0+10 and T0+30; 2 and 6: retry_wait, due at T0+20 and T0+5; 7: in_progress, no due time.
        const plan: Record<number, Partial<RolloutDevice>> = {
          1: { state: 'in_progress', dueAt: T0 + 10 },
          4: { state: 'in_progress', dueAt: T0 + 30 },
          2: { state: 'retry_wait', dueAt: T0 + 20 },
          6: { state: 'retry_wait', dueAt: T0 + 5 },
          7: { state: 'in_progress', dueAt: null },
        };
        await writeInStep(store, 'c2', (device) => plan[device.position] ?? null);
        const claims = await claimOnly(store, 'c2', async (context) => [
          await context.claim({ states: ['in_progress', 'retry_wait'], limit: 10 }),
          await context.claim({ states: ['pending'], maxWave: 1, limit: 10 }),
        ]);
        expect(claims).toEqual([
          [1, 2, 4, 6, 7],
          [0, 3, 5],
        ]);
        const due = await claimOnly(store, 'c2', async (context) => [
          await context.claim({ states: ['in_progress', 'retry_wait'], dueBy: T0 + 20, limit: 10 }),
          await context.claim({ states: ['in_progress', 'retry_wait'], dueBy: T0 + 30, limit: 10 }),
        ]);
        // dueBy is inclusive; a device without a due time is never due; a claimed one is not claimed again.
        expect(due).toEqual([[1, 2, 6], [4]]);
        const limited = await claimOnly(store, 'c2', async (context) => [
          await context.claim({ states: ['retry_wait', 'in_progress'], dueBy: T0 + 30, limit: 2 }),
          await context.claim({ states: ['pending'], maxWave: 0, limit: 10 }),
          await context.claim({ states: ['in_progress'], maxWave: 0, dueBy: T0 + 30, limit: 10 }),
        ]);
        expect(limited).toEqual([[1, 2], [0], []]);
      });

      it('keeps plan order when a device comes back to a state it left', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('c3', [6]);
        await store.create(record, devices);
        await writeInStep(store, 'c3', (device) => (device.position <= 2 ? { state: 'dispatching' } : null));
        // Position 1 comes back to pending after 3, 4, 5 entered it.
        await writeInStep(store, 'c3', (device) => (device.position === 1 ? { state: 'pending' } : null));
        const claims = await claimOnly(store, 'c3', async (context) => [
          await context.claim({ states: ['pending'], limit: 1 }),
          await context.claim({ states: ['pending'], limit: 2 }),
        ]);
        expect(claims).toEqual([[1], [3, 4]]);
        await writeInStep(store, 'c3', (device) => (device.position === 0 ? { state: 'pending' } : null));
        expect(
          await claimOnly(store, 'c3', async (context) => [
            await context.claim({ states: ['pending'], limit: 2 }),
          ]),
        ).toEqual([[0, 1]]);
      });

      it('writes only devices claimed in the step', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('w1', [3]);
        await store.create(record, devices);
        const error = await store
          .step('w1', { wait: false }, async (_rollout, context) => {
            await context.claim({ states: ['pending'], limit: 1 });
            await context.write([changed(devices[2]!, { state: 'dispatching' })]);
            return { rollout: null, result: null };
          })
          .catch((e: unknown) => e);
        expect(isOtaError(error, 'STORE')).toBe(true);
        expect((error as Error).message).toContain('w1-d2');
        expect((await store.devices('w1')).map((d) => d.state)).toEqual(['pending', 'pending', 'pending']);
      });

      it('is all or nothing: a throwing work, or a record at the wrong revision, writes nothing', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('a1', [4]);
        await store.create(record, devices);
        const boom = new Error('boom');
        const thrown = await store
          .step('a1', { wait: false }, async (_rollout, context) => {
            const claimed = await context.claim({ states: ['pending'], limit: 2 });
            await context.write(
              claimed.map((device) => changed(device, { state: 'dispatching', owner: 'i1' })),
            );
            // What this step wrote counts in it …
            expect(plainCounts(await context.counts()).byWave).toEqual([{ pending: 2, dispatching: 2 }]);
            throw boom;
          })
          .catch((e: unknown) => e);
        expect(thrown).toBe(boom);
        // … and nowhere once it failed.
        expect((await store.devices('a1')).map((d) => d.state)).toEqual([
          'pending',
          'pending',
          'pending',
          'pending',
        ]);
        expect(plainCounts(await store.counts('a1')).byWave).toEqual([{ pending: 4 }]);

        const wrong = await store
          .step('a1', { wait: false }, async (rollout, context) => {
            const claimed = await context.claim({ states: ['pending'], limit: 1 });
            await context.write(claimed.map((device) => changed(device, { state: 'dispatching' })));
            return { rollout: { ...rollout, wave: 3, revision: rollout.revision + 2 }, result: null };
          })
          .catch((e: unknown) => e);
        expect(isOtaError(wrong, 'STORE')).toBe(true);
        expect((await store.rollout('a1'))?.wave).toBe(0);
        expect((await store.devices('a1'))[0]?.state).toBe('pending');
        // The rollout is free again, and the devices can be claimed.
        const again = await store.step('a1', { wait: false }, async (_rollout, context) => ({
          rollout: null,
          result: positions(await context.claim({ states: ['pending'], limit: 4 })),
        }));
        expect(again).toEqual({ held: false, found: true, result: [0, 1, 2, 3] });
      });

      it('wait: false resolves held while another step (of this or another instance) holds the rollout', async () => {
        const { store, another } = await open();
        const other = await another();
        const { record, devices } = await rolloutFixture('h1', [2]);
        await store.create(record, devices);
        const release = gate();
        const entered = gate();
        const first = store.step('h1', { wait: false }, async (rollout) => {
          entered.open();
          await release.promise;
          return { rollout: { ...rollout, tokens: 7, revision: rollout.revision + 1 }, result: 'first' };
        });
        await entered.promise;
        let ran = false;
        for (const target of [store, other]) {
          expect(
            await target.step('h1', { wait: false }, async () => {
              ran = true;
              return { rollout: null, result: 'second' };
            }),
          ).toEqual({ held: true });
        }
        expect(ran).toBe(false);
        // Reads do not wait for the step: they see the record as last committed.
        expect((await other.rollout('h1'))?.revision).toBe(1);
        release.open();
        expect(await first).toEqual({ held: false, found: true, result: 'first' });
        expect(
          await other.step('h1', { wait: false }, async (rollout) => ({
            rollout: null,
            result: rollout.tokens,
          })),
        ).toEqual({ held: false, found: true, result: 7 });
      });

      it('wait: true waits its turn: steps are serialised and each sees the record the previous wrote', async () => {
        const { store, another } = await open();
        const other = await another();
        const { record, devices } = await rolloutFixture('h2', [2]);
        await store.create(record, devices);
        const log: string[] = [];
        const release = gate();
        const entered = gate();
        const first = store.step('h2', { wait: true }, async (rollout) => {
          log.push('first:start');
          entered.open();
          await release.promise;
          log.push('first:end');
          return { rollout: { ...rollout, tokens: 1, revision: rollout.revision + 1 }, result: null };
        });
        await entered.promise;
        const waiters = [store, other, other].map((target, index) =>
          target.step('h2', { wait: true }, async (rollout) => {
            log.push(`waiter${index}:start`);
            await sleep(5);
            log.push(`waiter${index}:end`);
            return {
              rollout: { ...rollout, tokens: rollout.tokens + 1, revision: rollout.revision + 1 },
              result: null,
            };
          }),
        );
        await sleep(50);
        expect(log).toEqual(['first:start']);
        release.open();
        await Promise.all([first, ...waiters]);
        // Never two at once: every start is followed by its own end.
        for (let index = 0; index < log.length; index += 2) {
          expect(log[index]!.replace(':start', '')).toBe(log[index + 1]!.replace(':end', ''));
        }
        expect(log).toHaveLength(8);
        expect(await store.rollout('h2')).toMatchObject({ tokens: 4, revision: 5 });
      });

      it('two instances stepping at once claim each device once', async () => {
        const { store, another } = await open();
        const other = await another();
        const { record, devices } = await rolloutFixture('x1', [40, 40]);
        await store.create(record, devices);
        const claimedBy: string[][] = [[], []];
        const round = async (target: RolloutStore, index: number, wait: boolean) =>
          target.step('x1', { wait }, async (_rollout, context) => {
            const claimed = await context.claim({ states: ['pending'], limit: 7 });
            await sleep(1);
            await context.write(
              claimed.map((device) => changed(device, { state: 'dispatching', owner: `i${index}` })),
            );
            claimedBy[index]!.push(...claimed.map((device) => device.deviceId));
            return { rollout: null, result: claimed.length };
          });
        for (let turn = 0; turn < 12; turn++) {
          await Promise.all([
            round(store, 0, turn % 2 === 0),
            round(other, 1, true),
            round(other, 1, turn % 3 === 0),
          ]);
        }
        const all = [...claimedBy[0]!, ...claimedBy[1]!];
        expect(new Set(all).size).toBe(all.length);
        expect(all.length).toBe(80);
        const stored = await store.devices('x1');
        for (const device of stored) {
          expect(device.state).toBe('dispatching');
          expect(claimedBy[Number(device.owner!.slice(1))]).toContain(device.deviceId);
        }
      });

      it('counts per wave and state, and final failures per kind per wave', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('n1', [4, 4]);
        await store.create(record, devices);
        const changes: Record<number, Partial<RolloutDevice>> = {
          0: { state: 'succeeded' },
          1: { state: 'failed', failure: 'download_failed', error: { code: 'DOWNLOAD', message: '404' } },
          2: { state: 'timed_out', failure: 'timed_out' },
          3: { state: 'failed', failure: 'download_failed' },
          // Not final: a failure waiting for its retry is not counted as a failure.
          4: { state: 'retry_wait', failure: 'install_failed', dueAt: T0 + 60_000 },
          5: { state: 'failed', failure: 'dispatch_failed' },
          6: { state: 'in_progress', dueAt: T0 + 1 },
        };
        await writeInStep(store, 'n1', (device) => changes[device.position] ?? null);
        const expected: RolloutCounts = {
          byWave: [
            { succeeded: 1, failed: 2, timed_out: 1 },
            { retry_wait: 1, failed: 1, in_progress: 1, pending: 1 },
          ],
          failures: { download_failed: 2, timed_out: 1, dispatch_failed: 1 },
          failuresByWave: [{ download_failed: 2, timed_out: 1 }, { dispatch_failed: 1 }],
        };
        expect(plainCounts(await store.counts('n1'))).toEqual(expected);
        const inStep = await store.step('n1', { wait: false }, async (_rollout, context) => {
          const before = plainCounts(await context.counts());
          const [retry] = await context.claim({ states: ['retry_wait'], limit: 1 });
          await context.write([changed(retry!, { state: 'failed' })]);
          return { rollout: null, result: { before, after: plainCounts(await context.counts()) } };
        });
        expect(inStep).toMatchObject({ result: { before: expected } });
        const after = {
          byWave: [expected.byWave[0], { failed: 2, in_progress: 1, pending: 1 }],
          failures: { download_failed: 2, timed_out: 1, dispatch_failed: 1, install_failed: 1 },
          failuresByWave: [expected.failuresByWave[0], { dispatch_failed: 1, install_failed: 1 }],
        };
        expect(inStep).toMatchObject({ result: { after } });
        expect(plainCounts(await store.counts('n1'))).toEqual(after);
        expect((await store.devicesById('n1', ['n1-d1'])).get('n1-d1')?.error).toEqual({
          code: 'DOWNLOAD',
          message: '404',
        });
      });
    });

    describe('settles', () => {
      it('applies a change only at the expected revision, and only one revision up', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('t1', [3]);
        await store.create(record, devices);
        const [d0, d1, d2] = devices as [RolloutDevice, RolloutDevice, RolloutDevice];
        const applied = await store.settle('t1', [
          { expected: d0, next: changed(d0, { state: 'in_progress', dueAt: T0 + 5 }) },
          { expected: { ...d1, revision: 7 }, next: changed({ ...d1, revision: 7 }, { state: 'succeeded' }) },
          { expected: d2, next: { ...changed(d2, { state: 'succeeded' }), revision: 3 } },
          { expected: { ...d0, deviceId: 'nobody' }, next: changed({ ...d0, deviceId: 'nobody' }, {}) },
        ]);
        expect(applied).toEqual([{ ...changed(d0, { state: 'in_progress', dueAt: T0 + 5 }) }]);
        expect((await store.devices('t1')).map((d) => [d.state, d.revision])).toEqual([
          ['in_progress', 2],
          ['pending', 1],
          ['pending', 1],
        ]);
        // Stale now: the same change again is not applied.
        expect(await store.settle('t1', [{ expected: d0, next: changed(d0, { state: 'failed' }) }])).toEqual(
          [],
        );
      });

      it('keeps the stored position and wave of a settled device', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('t2', [1, 1]);
        await store.create(record, devices);
        const d1 = devices[1]!;
        const [applied] = await store.settle('t2', [
          { expected: d1, next: changed(d1, { state: 'succeeded', wave: 0, position: 0 }) },
        ]);
        expect(applied).toMatchObject({ deviceId: 't2-d1', wave: 1, position: 1, state: 'succeeded' });
        expect((await store.devices('t2')).map((d) => [d.deviceId, d.state])).toEqual([
          ['t2-d0', 'pending'],
          ['t2-d1', 'succeeded'],
        ]);
      });

      it('applies a change once when two settles race (two instances, one status seen twice)', async () => {
        const { store, another } = await open();
        const other = await another();
        const { record, devices } = await rolloutFixture('t3', [20]);
        await store.create(record, devices);
        const changes = devices.map((device) => ({
          expected: device,
          next: changed(device, { state: 'succeeded' }),
        }));
        const reversed = [...changes].reverse().map((change) => ({
          expected: change.expected,
          next: { ...change.next, owner: 'other' },
        }));
        const [a, b, c] = await Promise.all([
          store.settle('t3', changes),
          other.settle('t3', reversed),
          other.settle('t3', changes.slice(5, 15)),
        ]);
        expect(a.length + b.length + c.length).toBe(20);
        const winners = new Set([...a, ...b, ...c].map((device) => device.deviceId));
        expect(winners.size).toBe(20);
        for (const device of await store.devices('t3')) {
          expect(device).toMatchObject({ state: 'succeeded', revision: 2 });
          const from = b.some((won) => won.deviceId === device.deviceId) ? 'other' : null;
          expect(device.owner).toBe(from);
        }
      });

      it('applies changes of one device in one batch in turn', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('t4', [2]);
        await store.create(record, devices);
        const d0 = devices[0]!;
        const mid = changed(d0, { state: 'in_progress' });
        const end = changed(mid, { state: 'succeeded' });
        const applied = await store.settle('t4', [
          { expected: d0, next: mid },
          {
            expected: devices[1]!,
            next: changed(devices[1]!, { state: 'failed', failure: 'verify_failed' }),
          },
          { expected: mid, next: end },
          { expected: d0, next: changed(d0, { state: 'timed_out' }) },
        ]);
        expect(applied.map((device) => [device.deviceId, device.state, device.revision])).toEqual([
          ['t4-d0', 'in_progress', 2],
          ['t4-d1', 'failed', 2],
          ['t4-d0', 'succeeded', 3],
        ]);
        expect((await store.devicesById('t4', ['t4-d0'])).get('t4-d0')).toEqual(end);
      });

      it('waits for a step holding its devices, then misses those the step wrote', async () => {
        const { store, another } = await open();
        const other = await another();
        const { record, devices } = await rolloutFixture('t5', [4]);
        await store.create(record, devices);
        const [d0, d1, d2] = devices as [RolloutDevice, RolloutDevice, RolloutDevice];
        const events: string[] = [];
        let settling: Promise<RolloutDevice[]> | undefined;
        await store.step('t5', { wait: false }, async (_rollout, context) => {
          await context.claim({ states: ['pending'], limit: 2 });
          settling = other
            .settle('t5', [
              { expected: d0, next: changed(d0, { state: 'succeeded' }) },
              { expected: d1, next: changed(d1, { state: 'succeeded' }) },
              { expected: d2, next: changed(d2, { state: 'succeeded' }) },
            ])
            .then((applied) => {
              events.push('settled');
              return applied;
            });
          await sleep(150);
          events.push('step writes');
          // The step writes d0 (claimed), leaves d1 (claimed) as it was.
          await context.write([changed(d0, { state: 'dispatching', owner: 'i1' })]);
          return { rollout: null, result: null };
        });
        events.push('step done');
        const applied = await settling!;
        // Not before the step wrote and ended (when exactly after, is up to the scheduler).
        expect(events[0]).toBe('step writes');
        expect(events).toContain('settled');
        expect(applied.map((device) => device.deviceId).sort()).toEqual(['t5-d1', 't5-d2']);
        expect((await store.devices('t5')).map((d) => [d.state, d.revision])).toEqual([
          ['dispatching', 2],
          ['succeeded', 2],
          ['succeeded', 2],
          ['pending', 1],
        ]);
      });
    });

    describe('queries', () => {
      it('pages devices in plan order by state, wave and position', async () => {
        const { store } = await open();
        const { record, devices } = await rolloutFixture('q1', [5, 10, 10]);
        await store.create(record, devices);
        await writeInStep(store, 'q1', (device) =>
          device.position % 3 === 0
            ? { state: 'succeeded' }
            : device.position % 3 === 1
              ? { state: 'failed' }
              : null,
        );
        const paged: number[] = [];
        for (let after: number | undefined; ; ) {
          const page = await store.devices('q1', {
            limit: 4,
            ...(after === undefined ? {} : { afterPosition: after }),
          });
          paged.push(...positions(page));
          if (page.length < 4) break;
          after = page[page.length - 1]!.position;
        }
        expect(paged).toEqual(devices.map((device) => device.position));
        expect(positions(await store.devices('q1', { state: 'succeeded', wave: 1 }))).toEqual([6, 9, 12]);
        expect(
          positions(
            await store.devices('q1', { state: ['succeeded', 'failed'], afterPosition: 17, limit: 3 }),
          ),
        ).toEqual([18, 19, 21]);
        expect(positions(await store.devices('q1', { state: 'pending', wave: 2 }))).toEqual([17, 20, 23]);
        expect(await store.devices('q1', { state: [] })).toEqual([]);
        expect(await store.devices('q1', { limit: 0 })).toEqual([]);
        expect(positions(await store.devices('q1', { afterPosition: 23 }))).toEqual([24]);
      });
    });

    it('closes idempotently, then refuses writes with a StoreError', async () => {
      const { store } = await open();
      const { record, devices } = await rolloutFixture('z1', [1]);
      await store.close();
      await store.close();
      for (const attempt of [
        () => store.create(record, devices),
        () => store.step('z1', { wait: false }, async () => ({ rollout: null, result: null })),
        () => store.settle('z1', [{ expected: devices[0]!, next: changed(devices[0]!, {}) }]),
      ]) {
        expect(isOtaError(await attempt().catch((e: unknown) => e), 'STORE')).toBe(true);
      }
    });
  });
}
