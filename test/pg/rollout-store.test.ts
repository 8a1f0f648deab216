/**
 * The rollout store on a real PostgreSQL: the shared conformance suite
 * (test/cloud/rollout-store-conformance.ts), then what only PostgreSQL shows: claims skipping rows
 * another transaction locks, settles waiting on them, and a 20 000-device rollout (100 000 run in bench/rollout-scale.ts) created and
 * claimed through (timings printed, never asserted). A throwaway cluster
 * (test/support/postgres.ts) runs for this file; every test gets its own schema. Without
 * PostgreSQL installed the file skips locally and fails in CI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutDevice } from '../../src/cloud/rollout/types.js';
import { isOtaError } from '../../src/index.js';
import { MIGRATIONS, PostgresRolloutStore, SCHEMA_VERSION } from '../../src/pg/index.js';
import { pg } from '../../src/pg/load-pg.js';
import { changed, rolloutFixture, rolloutStoreConformance, T0 } from '../cloud/rollout-store-conformance.js';
import { findPostgresBin, type PostgresServer, startPostgres } from '../support/postgres.js';
import { skipOrFailInCi } from '../support/system-services.js';

const BIN = findPostgresBin();
const MISSING =
  'PostgreSQL is not installed (no /usr/lib/postgresql/<major>/bin/initdb, POSTGRES_BIN or initdb on PATH)';

let server: PostgresServer | undefined;
let schemas = 0;
const nextSchema = () => `rollout_test_${process.pid}_${++schemas}`;

if (!BIN) {
  describe('PostgresRolloutStore', () => {
    it('has a PostgreSQL server to test against', (context) => skipOrFailInCi(context, MISSING));
  });
}

describe.skipIf(!BIN)('PostgreSQL', () => {
  beforeAll(async () => {
    server = await startPostgres(BIN);
  });
  afterAll(async () => {
    await server?.stop();
  });

  rolloutStoreConformance('PostgresRolloutStore', {
    fresh: async () => {
      const schema = nextSchema();
      const url = server!.url();
      const store = await PostgresRolloutStore.open({ connectionString: url, schema, maxConnections: 4 });
      return {
        store,
        another: () => PostgresRolloutStore.open({ connectionString: url, schema, maxConnections: 4 }),
      };
    },
  });

  describe('PostgresRolloutStore', () => {
    it('migrates its tables with the fleet tables, once', async () => {
      const schema = nextSchema();
      const stores = await Promise.all(
        Array.from({ length: 3 }, () =>
          PostgresRolloutStore.open({ connectionString: server!.url(), schema }),
        ),
      );
      expect(await stores[0]!.migrate()).toEqual([]);
      await Promise.all(stores.map((store) => store.close()));
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
      const tables = await query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = '${schema}' ORDER BY 1`,
      );
      expect(tables).toEqual(
        [
          'otakit_fleet_anomalies',
          'otakit_fleet_devices',
          'otakit_fleet_history',
          'otakit_rollout_devices',
          'otakit_rollouts',
          'otakit_schema_migrations',
        ].map((table_name) => ({ table_name })),
      );
    });

    it('refuses bad options with typed errors naming the field', async () => {
      const schema = await PostgresRolloutStore.open({
        connectionString: server!.url(),
        schema: 'Bad',
      }).catch((e: unknown) => e);
      expect(isOtaError(schema, 'MANIFEST_INVALID')).toBe(true);
      expect((schema as Error).message).toMatch(/PostgresRolloutStore options.*schema/);
      const neither = await PostgresRolloutStore.open({}).catch((e: unknown) => e);
      expect(isOtaError(neither, 'MANIFEST_INVALID')).toBe(true);
      const connections = await PostgresRolloutStore.open({
        connectionString: server!.url(),
        maxConnections: 0,
      }).catch((e: unknown) => e);
      expect((connections as Error).message).toContain('maxConnections');
    });

    it('leaves a pool it was given open', async () => {
      const pool = new pg.Pool({ connectionString: server!.url(), max: 2 });
      try {
        const store = await PostgresRolloutStore.open({ pool, schema: nextSchema() });
        const { record, devices } = await rolloutFixture('p1', [2]);
        await store.create(record, devices);
        await store.close();
        await store.close();
        expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        expect(isOtaError(await store.counts('p1').catch((e: unknown) => e), 'STORE')).toBe(true);
      } finally {
        await pool.end();
      }
    });

    it('claims skip devices another transaction locks; a settle on them waits for it', async () => {
      const schema = nextSchema();
      const store = await PostgresRolloutStore.open({ connectionString: server!.url(), schema });
      const locker = new pg.Pool({ connectionString: server!.url(), max: 1 });
      const client = await locker.connect();
      try {
        const { record, devices } = await rolloutFixture('k1', [5]);
        await store.create(record, devices);
        await client.query('BEGIN');
        await client.query(
          `SELECT 1 FROM "${schema}".otakit_rollout_devices WHERE rollout_id = 'k1' AND position IN (0, 2) FOR UPDATE`,
        );
        const claimed = await store.step('k1', { wait: false }, async (_rollout, context) => ({
          rollout: null,
          result: (await context.claim({ states: ['pending'], limit: 2 })).map((device) => device.position),
        }));
        expect(claimed).toEqual({ held: false, found: true, result: [1, 3] });
        let settled = false;
        const d0 = devices[0]!;
        const settling = store
          .settle('k1', [{ expected: d0, next: changed(d0, { state: 'succeeded' }) }])
          .then((applied) => {
            settled = true;
            return applied;
          });
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(settled).toBe(false);
        await client.query('COMMIT');
        expect((await settling).map((device) => device.deviceId)).toEqual(['k1-d0']);
      } finally {
        client.release();
        await locker.end();
        await store.close();
      }
    });

    it('ids are data, never SQL', async () => {
      const schema = nextSchema();
      const store = await PostgresRolloutStore.open({ connectionString: server!.url(), schema });
      try {
        const id = `x'); DROP TABLE "${schema}".otakit_rollouts; --`;
        const { record, devices } = await rolloutFixture(id, [2]);
        const odd = devices.map((device, index) => ({ ...device, deviceId: `${index}"{,}\\'` }));
        await store.create(record, odd);
        expect((await store.rollout(id))?.id).toBe(id);
        expect(await store.devices(id)).toEqual(odd);
        expect([...(await store.devicesById(id, [odd[1]!.deviceId])).keys()]).toEqual([odd[1]!.deviceId]);
      } finally {
        await store.close();
      }
    });

    it('20 000 devices: created in one transaction, claimed through 1 000 at a time, settled in batches', async () => {
      const schema = nextSchema();
      const store = await PostgresRolloutStore.open({ connectionString: server!.url(), schema });
      const figures: Record<string, string> = {};
      const time = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
        const started = performance.now();
        const result = await work();
        figures[what] = `${(performance.now() - started).toFixed(0)} ms`;
        return result;
      };
      try {
        const { record, devices } = await rolloutFixture('big', [200, 4_800, 15_000]);
        await time('create 20 000', () => store.create(record, devices));
        const claimTimes: number[] = [];
        const writeTimes: number[] = [];
        const seen = new Set<string>();
        let lastBatch: RolloutDevice[] = [];
        for (;;) {
          const outcome = await store.step('big', { wait: false }, async (_rollout, context) => {
            let started = performance.now();
            const claimed = await context.claim({ states: ['pending'], maxWave: 2, limit: 1_000 });
            claimTimes.push(performance.now() - started);
            started = performance.now();
            const next = claimed.map((device) =>
              changed(device, { state: 'dispatching', owner: 'i1', attempts: 1, dueAt: T0 + 60_000 }),
            );
            await context.write(next);
            writeTimes.push(performance.now() - started);
            return { rollout: null, result: next };
          });
          if (outcome.held || !outcome.found) throw new Error('step did not run');
          if (outcome.result.length === 0) break;
          for (const device of outcome.result) seen.add(device.deviceId);
          lastBatch = outcome.result;
        }
        expect(seen.size).toBe(20_000);
        const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
        const median = (values: number[]) => sorted(values)[Math.floor(values.length / 2)]!;
        figures['claim 1 000 (median of 20)'] = `${median(claimTimes).toFixed(1)} ms`;
        figures['claim 1 000 (slowest)'] = `${sorted(claimTimes).at(-1)!.toFixed(1)} ms`;
        figures['write 1 000 in a step (median)'] = `${median(writeTimes).toFixed(1)} ms`;
        const applied = await time('settle 1 000', () =>
          store.settle(
            'big',
            lastBatch.map((device) => ({
              expected: device,
              next: changed(device, { state: 'in_progress' }),
            })),
          ),
        );
        expect(applied).toHaveLength(1_000);
        const counts = await time('counts of 20 000', () => store.counts('big'));
        expect(counts.byWave.map((wave) => wave.dispatching ?? 0)).toEqual([200, 4_800, 14_000]);
        expect(counts.byWave[2]?.in_progress).toBe(1_000);
        const due = await time('claim 1 000 due of 20 000 in_progress/dispatching', () =>
          store.step('big', { wait: false }, async (_rollout, context) => ({
            rollout: null,
            result: (
              await context.claim({
                states: ['dispatching', 'in_progress'],
                dueBy: T0 + 60_000,
                limit: 1_000,
              })
            ).length,
          })),
        );
        expect(due).toMatchObject({ result: 1_000 });
        const page = await time('page of 1 000 from position 10 000', () =>
          store.devices('big', { afterPosition: 10_000, limit: 1_000 }),
        );
        expect(page[0]?.position).toBe(10_001);
        console.log(`PostgresRolloutStore, 20 000 devices: ${JSON.stringify(figures, null, 2)}`);
      } finally {
        await store.close();
      }
    }, 300_000);
  });
});

async function query(text: string): Promise<unknown[]> {
  const pool = new pg.Pool({ connectionString: server!.url(), max: 1 });
  try {
    return (await pool.query(text)).rows;
  } finally {
    await pool.end();
  }
}
