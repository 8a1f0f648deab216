/**
 * The fleet on a real PostgreSQL: the shared fleet-store suite (test/cloud/fleet-suite.ts), then
 * what only PostgreSQL has: migrations (versioned, idempotent, two instances starting at once),
 * connection errors that never show the password, and a pool the store does not own.
 * A throwaway cluster (test/support/postgres.ts) runs for this file; every test gets its own
 * schema. Without PostgreSQL installed the file skips locally and fails in CI.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/cloud/fleet/index.js';
import { isOtaError } from '../../src/index.js';
import { connectionSecrets, redactSecrets } from '../../src/pg/errors.js';
import { MIGRATIONS, MissingPgError, PostgresFleetStore, SCHEMA_VERSION } from '../../src/pg/index.js';
import { pg } from '../../src/pg/load-pg.js';
import { missingPgError } from '../../src/pg/missing-peer.js';
import { fleetStoreSuite, status } from '../cloud/fleet-suite.js';
import { findPostgresBin, type PostgresServer, startPostgres } from '../support/postgres.js';
import { freePorts, skipOrFailInCi } from '../support/system-services.js';

const BIN = findPostgresBin();
const MISSING =
  'PostgreSQL is not installed (no /usr/lib/postgresql/<major>/bin/initdb, POSTGRES_BIN or initdb on PATH)';

let server: PostgresServer | undefined;
let schemas = 0;
const nextSchema = () => `fleet_test_${process.pid}_${++schemas}`;

if (!BIN) {
  describe('PostgresFleetStore', () => {
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

  fleetStoreSuite('PostgresFleetStore', {
    fresh: async () => {
      const schema = nextSchema();
      const url = server!.url();
      const store = await PostgresFleetStore.open({ connectionString: url, schema, maxConnections: 4 });
      return {
        store,
        another: () => PostgresFleetStore.open({ connectionString: url, schema, maxConnections: 4 }),
      };
    },
  });

  describe('PostgresFleetStore', () => {
    it('migrates once: a second open applies nothing, and the version is recorded', async () => {
      const schema = nextSchema();
      const first = await PostgresFleetStore.open({ connectionString: server!.url(), schema });
      try {
        expect(await first.migrate()).toEqual([]);
        const second = await PostgresFleetStore.open({ connectionString: server!.url(), schema });
        await second.close();
      } finally {
        await first.close();
      }
      const rows = await query(
        `SELECT version, name FROM "${schema}".otakit_schema_migrations ORDER BY version`,
      );
      expect(rows).toEqual(
        MIGRATIONS.map((migration) => ({ version: migration.version, name: migration.name })),
      );
      expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    });

    it('two instances starting at once on a fresh database both come up, migrated once', async () => {
      const schema = nextSchema();
      const stores = await Promise.all(
        Array.from({ length: 4 }, () => PostgresFleetStore.open({ connectionString: server!.url(), schema })),
      );
      const fleets = stores.map((store) => new Fleet({ store }));
      await fleets[0]!.ingest('m-1', status('m-1', 'checking'));
      expect((await fleets[3]!.device('m-1'))?.state).toBe('checking');
      await Promise.all(stores.map((store) => store.close()));
      expect(await query(`SELECT count(*)::int AS n FROM "${schema}".otakit_schema_migrations`)).toEqual([
        { n: MIGRATIONS.length },
      ]);
    });

    it('refuses tables migrated by a newer otakit', async () => {
      const schema = nextSchema();
      await (await PostgresFleetStore.open({ connectionString: server!.url(), schema })).close();
      await query(
        `INSERT INTO "${schema}".otakit_schema_migrations (version, name) VALUES (${SCHEMA_VERSION + 1}, 'future')`,
      );
      const error = await PostgresFleetStore.open({ connectionString: server!.url(), schema }).catch(
        (e: unknown) => e,
      );
      expect(isOtaError(error, 'STORE')).toBe(true);
      expect((error as Error).message).toMatch(/newer than this otakit/);
    });

    it('refuses a schema name that is not a plain identifier (it becomes SQL text)', async () => {
      for (const schema of ['public"; DROP TABLE x; --', 'Upper', '1abc', '', 'a'.repeat(64)]) {
        const error = await PostgresFleetStore.open({ connectionString: server!.url(), schema }).catch(
          (e: unknown) => e,
        );
        expect(isOtaError(error, 'MANIFEST_INVALID'), schema).toBe(true);
        expect((error as Error).message).toContain('schema');
      }
      const neither = await PostgresFleetStore.open({}).catch((e: unknown) => e);
      expect(isOtaError(neither, 'MANIFEST_INVALID')).toBe(true);
    });

    it('device ids are data, never SQL: quotes and SQL in an id are stored as they are', async () => {
      const schema = nextSchema();
      const store = await PostgresFleetStore.open({ connectionString: server!.url(), schema });
      try {
        const fleet = new Fleet({ store });
        const id = `x'); DROP TABLE "${schema}".otakit_fleet_devices; --`;
        expect((await fleet.ingest(id, status(id, 'downloading'))).outcome).toBe('applied');
        expect((await fleet.device(id))?.state).toBe('downloading');
        expect((await fleet.snapshot()).total).toBe(1);
      } finally {
        await store.close();
      }
    });

    it('a wrong password fails with a StoreError that never shows the password or connection string', async () => {
      const password = 'Wr0ng-S3cret/p@ss';
      const url = `postgres://otakit:${encodeURIComponent(password)}@127.0.0.1:${server!.port}/postgres`;
      const error = await PostgresFleetStore.open({ connectionString: url, schema: nextSchema() }).catch(
        (e: unknown) => e,
      );
      expect(isOtaError(error, 'STORE')).toBe(true);
      expect((error as Error).message).toMatch(/password authentication failed/);
      expectNoSecret(error, [password, encodeURIComponent(password), url]);
    });

    it('an unreachable server fails with a retryable StoreError, without the connection string', async () => {
      const [port] = await freePorts(1);
      const url = `postgres://otakit:hunter2-very-secret@127.0.0.1:${port}/postgres`;
      const error = await PostgresFleetStore.open({ connectionString: url }).catch((e: unknown) => e);
      expect(isOtaError(error, 'STORE')).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(true);
      expectNoSecret(error, ['hunter2-very-secret', url]);
    });

    it('a malformed connection string fails without echoing it', async () => {
      const url = 'postgres://otakit:p%ZZsecret-123@[broken/postgres';
      const error = await PostgresFleetStore.open({ connectionString: url }).catch((e: unknown) => e);
      expect(isOtaError(error, 'STORE')).toBe(true);
      expectNoSecret(error, ['p%ZZsecret-123', 'secret-123', url]);
    });

    it('leaves a pool it was given open; a closed store refuses work with a StoreError', async () => {
      const pool = new pg.Pool({ connectionString: server!.url(), max: 2 });
      try {
        const store = await PostgresFleetStore.open({ pool, schema: nextSchema() });
        await new Fleet({ store }).ingest('p-1', status('p-1', 'checking'));
        await store.close();
        await store.close();
        expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        const closed = await store.counts().catch((e: unknown) => e);
        expect(isOtaError(closed, 'STORE')).toBe(true);
      } finally {
        await pool.end();
      }
    });

    it('a batch of many devices is one transaction: all of it or none of it', async () => {
      const schema = nextSchema();
      const store = await PostgresFleetStore.open({ connectionString: server!.url(), schema });
      try {
        const fleet = new Fleet({ store });
        const items = Array.from({ length: 300 }, (_, index) => ({
          deviceId: `n-${index}`,
          status: status(`n-${index}`, 'downloading'),
        }));
        const results = await fleet.ingestBatch(items);
        expect(results.every((result) => result.outcome === 'applied')).toBe(true);
        expect((await fleet.counts()).downloading).toBe(300);
        // Break the table under the next batch's write: nothing of it may land.
        await query(
          `ALTER TABLE "${schema}".otakit_fleet_history ADD CONSTRAINT no_downloaded CHECK (to_state <> 'downloaded')`,
        );
        const next = items.map(({ deviceId }) => ({ deviceId, status: status(deviceId, 'downloaded') }));
        const error = await fleet.ingestBatch(next).catch((e: unknown) => e);
        expect(isOtaError(error, 'STORE')).toBe(true);
        expect((await fleet.counts()).downloading).toBe(300);
        await query(`ALTER TABLE "${schema}".otakit_fleet_history DROP CONSTRAINT no_downloaded`);
        // The fleet's trackers were reloaded from the store: the same batch now applies.
        expect((await fleet.ingestBatch(next)).every((result) => result.outcome === 'applied')).toBe(true);
        expect((await fleet.counts()).downloaded).toBe(300);
      } finally {
        await store.close();
      }
    });
  });
});

describe('otakit/pg without pg', () => {
  it('says what to install when the optional peer is missing', () => {
    const cause = Object.assign(new Error("Cannot find package 'pg' imported from /app/x.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const error = missingPgError(cause);
    expect(error).toBeInstanceOf(MissingPgError);
    expect(isOtaError(error, 'CONFIG')).toBe(true);
    expect(error?.message).toContain('npm install pg');
    expect(error?.moduleCode).toBe('ERR_MODULE_NOT_FOUND');
    // One of pg's own dependencies missing is another problem: the original error stands.
    const other = Object.assign(new Error("Cannot find module 'pg-types'"), { code: 'MODULE_NOT_FOUND' });
    expect(missingPgError(other)).toBeUndefined();
    expect(missingPgError(new Error('boom'))).toBeUndefined();
  });

  it('masks passwords in libpq keyword strings and URLs alike', () => {
    const secrets = connectionSecrets("host=db password='se cr3t' user=otakit");
    expect(redactSecrets("failed: host=db password='se cr3t' user=otakit", secrets)).not.toContain('se cr3t');
    expect(redactSecrets('see postgres://u:other-pass@h/db', [])).toBe('see postgres://u:***@h/db');
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

/** Nothing of `secrets` in the error: message, stack, cause chain, JSON or util.inspect. */
function expectNoSecret(error: unknown, secrets: string[]): void {
  const views = [
    String((error as Error).message),
    String((error as Error).stack),
    JSON.stringify(error),
    inspect(error, { depth: 10, showHidden: true }),
  ];
  for (const secret of secrets) for (const view of views) expect(view).not.toContain(secret);
}
