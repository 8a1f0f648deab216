/**
 * Versioned migrations of the fleet's and the rollouts' tables. Each runs once, in order, recorded in
 * `otakit_schema_migrations`; all pending ones run in one transaction under an advisory lock, so
 * two service instances starting at once neither race nor half-migrate: the second waits, then
 * finds nothing left to do. Migrations are append-only: a released one is never edited.
 *
 * @module
 */
import { StoreError } from '../core/errors.js';
import type { PgClient } from './pool.js';

export interface Migration {
  /** 1, 2, 3… in order, never reused. */
  version: number;
  name: string;
  /** The SQL, for the quoted schema `s`. No parameters: it only creates things. */
  sql: (s: string, schema: string) => string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'devices, history, anomalies, device lock',
    sql: (s, schema) => `
CREATE TABLE ${s}.otakit_fleet_devices (
  -- "C": ordered by code point, as the memory store and JavaScript order them.
  device_id text COLLATE "C" PRIMARY KEY,
  revision bigint NOT NULL CHECK (revision > 0),
  protocol text,
  state text NOT NULL,
  update_id text,
  version text,
  record jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX otakit_fleet_devices_state ON ${s}.otakit_fleet_devices (state, device_id);

CREATE TABLE ${s}.otakit_fleet_history (
  id bigserial PRIMARY KEY,
  device_id text COLLATE "C" NOT NULL,
  from_state text NOT NULL,
  to_state text NOT NULL,
  at timestamptz NOT NULL,
  update_id text,
  skipped jsonb,
  error jsonb
);
CREATE INDEX otakit_fleet_history_device ON ${s}.otakit_fleet_history (device_id, id);

CREATE TABLE ${s}.otakit_fleet_anomalies (
  id bigserial PRIMARY KEY,
  device_id text COLLATE "C" NOT NULL,
  kind text NOT NULL,
  from_state text NOT NULL,
  to_state text,
  update_id text,
  reported_update_id text,
  at timestamptz NOT NULL,
  reported_at text,
  protocol text,
  error jsonb NOT NULL
);
CREATE INDEX otakit_fleet_anomalies_device ON ${s}.otakit_fleet_anomalies (device_id, id);
CREATE INDEX otakit_fleet_anomalies_kind ON ${s}.otakit_fleet_anomalies (kind, id);

-- Takes the per-device locks of one transaction (advisory, released at commit or rollback) in
-- one fixed order, so two transactions over overlapping devices never deadlock, then returns the
-- devices. The read is a statement of its own inside this VOLATILE function, so it sees what the
-- previous holder of a lock committed (one statement's snapshot would predate the lock).
CREATE FUNCTION ${s}.otakit_fleet_lock_devices(ids text[])
RETURNS TABLE (device_id text, revision bigint, protocol text, record jsonb)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  key integer;
BEGIN
  FOR key IN SELECT DISTINCT hashtext(d) FROM unnest(ids) AS d ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(hashtext('otakit.fleet.devices.${schema}'), key);
  END LOOP;
  RETURN QUERY
    SELECT t.device_id::text, t.revision, t.protocol, t.record
    FROM ${s}.otakit_fleet_devices t
    WHERE t.device_id = ANY (ids);
END
$fn$;
`,
  },
  {
    version: 2,
    name: 'rollouts, rollout devices',
    sql: (s) => `
CREATE TABLE ${s}.otakit_rollouts (
  id text COLLATE "C" PRIMARY KEY,
  state text NOT NULL,
  revision bigint NOT NULL,
  -- Creation order: rollouts are listed newest first.
  created_seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  record jsonb NOT NULL
);
CREATE INDEX otakit_rollouts_state ON ${s}.otakit_rollouts (state, created_seq);

-- One row per device of a rollout. due_at and updated_at are epoch ms as JavaScript numbers
-- (double precision: a backoff with a fractional factor is not a whole number of ms).
CREATE TABLE ${s}.otakit_rollout_devices (
  rollout_id text COLLATE "C" NOT NULL,
  device_id text COLLATE "C" NOT NULL,
  position integer NOT NULL CHECK (position >= 0),
  wave integer NOT NULL CHECK (wave >= 0),
  state text NOT NULL,
  attempts integer NOT NULL,
  owner text,
  due_at double precision,
  failure text,
  error jsonb,
  updated_at double precision NOT NULL,
  revision bigint NOT NULL,
  PRIMARY KEY (rollout_id, device_id)
);
-- Plan order: pages of devices, writes of claimed rows.
CREATE UNIQUE INDEX otakit_rollout_devices_position ON ${s}.otakit_rollout_devices (rollout_id, position);
-- Claims in plan order among the devices in one state (pending, succeeded…).
CREATE INDEX otakit_rollout_devices_state ON ${s}.otakit_rollout_devices (rollout_id, state, position);
-- Claims of the devices whose timeout, lease or backoff ran out.
CREATE INDEX otakit_rollout_devices_due ON ${s}.otakit_rollout_devices (rollout_id, state, due_at)
  WHERE due_at IS NOT NULL;
`,
  },
];

/** The newest migration this version of otakit knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings the schema to {@link SCHEMA_VERSION}; returns the versions it applied (none when up to
 * date). Refuses a database migrated by a newer otakit, whose tables this one may misread.
 */
export async function migrate(client: PgClient, s: string, schema: string): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query({
      text: "SELECT pg_advisory_xact_lock(hashtext('otakit.fleet.migrate'), hashtext($1))",
      values: [schema],
    });
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.otakit_schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    const { rows } = await client.query<{ version: number }>(
      `SELECT version FROM ${s}.otakit_schema_migrations`,
    );
    const done = new Set(rows.map((row) => Number(row.version)));
    const newest = Math.max(0, ...done);
    if (newest > SCHEMA_VERSION) {
      throw new StoreError(
        `The fleet tables in schema "${schema}" are at version ${newest}, newer than this otakit knows ` +
          `(${SCHEMA_VERSION}): upgrade otakit`,
      );
    }
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql(s, schema));
      await client.query({
        text: `INSERT INTO ${s}.otakit_schema_migrations (version, name) VALUES ($1, $2)`,
        values: [migration.version, migration.name],
      });
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
