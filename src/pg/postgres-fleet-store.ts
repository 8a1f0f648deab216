/**
 * The fleet store in PostgreSQL, through node-postgres: several service instances share it, a
 * restarted service finds every device where it was, and dashboards query it by state.
 *
 * One transaction per `transact()`: per-device advisory locks taken in a fixed order (so two
 * instances over overlapping devices never deadlock), the devices read after the locks, and
 * every write (devices, history, anomalies) in one statement, with each device's revision
 * checked against the one read. All SQL is parameterised; the schema name, the only identifier
 * that varies, is checked against a strict pattern and quoted.
 *
 * @module
 */

import { emptyCounts } from '../cloud/fleet/counts.js';
import type {
  AnomalyQuery,
  DeviceQuery,
  FleetStore,
  FleetWork,
  FleetWrites,
  HistoryQuery,
  StoredDevice,
} from '../cloud/fleet/store.js';
import type { FleetAnomaly, FleetAnomalyKind, FleetHistoryEntry, StateCounts } from '../cloud/fleet/types.js';
import { ManifestError, StoreError } from '../core/errors.js';
import { UPDATE_STATES, type UpdateState } from '../core/states.js';
import type { MachineRecord } from '../machine/record.js';
import { pgStoreError } from './errors.js';
import { migrate } from './migrations.js';
import { openPool } from './open-pool.js';
import type { PgClient, PgPool } from './pool.js';
import { quotedSchema } from './schema-name.js';

export interface PostgresFleetStoreOptions {
  /**
   * Where to connect, e.g. `postgres://otakit:secret@db.internal:5432/fleet`. Never printed: it
   * is masked in every error. Give this or `pool`.
   */
  connectionString?: string;
  /**
   * An existing pool (`new pg.Pool(...)`) to use instead; `close()` leaves it open, as its owner
   * closes it.
   */
  pool?: PgPool;
  /**
   * Connections of the pool opened for `connectionString`.
   * @default 10
   */
  maxConnections?: number;
  /**
   * The PostgreSQL schema of the fleet's tables (created when missing): one per fleet sharing a
   * database. A lower-case identifier.
   * @default 'public'
   */
  schema?: string;
  /**
   * Bring the tables to this otakit's version on open (safe with several instances starting at
   * once). Turn off when migrations are run by a deploy step with other rights.
   * @default true
   */
  migrate?: boolean;
}

interface DeviceRow {
  device_id: string;
  revision: string | number;
  protocol: string | null;
  record: MachineRecord;
}

interface HistoryRow {
  device_id: string;
  from_state: UpdateState;
  to_state: UpdateState;
  at: Date;
  update_id: string | null;
  skipped: UpdateState[] | null;
  error: NonNullable<FleetHistoryEntry['error']> | null;
}

interface AnomalyRow {
  device_id: string;
  kind: FleetAnomalyKind;
  from_state: UpdateState;
  to_state: UpdateState | null;
  update_id: string | null;
  reported_update_id: string | null;
  at: Date;
  reported_at: string | null;
  protocol: string | null;
  error: FleetAnomaly['error'];
}

function toDevice(row: DeviceRow): StoredDevice {
  return {
    deviceId: row.device_id,
    revision: Number(row.revision),
    protocol: row.protocol,
    record: row.record,
  };
}

function toHistory(row: HistoryRow): FleetHistoryEntry {
  const entry: FleetHistoryEntry = {
    deviceId: row.device_id,
    from: row.from_state,
    to: row.to_state,
    at: row.at.toISOString(),
    updateId: row.update_id,
  };
  if (row.skipped !== null) entry.skipped = row.skipped;
  if (row.error !== null) entry.error = row.error;
  return entry;
}

function toAnomaly(row: AnomalyRow): FleetAnomaly {
  return {
    deviceId: row.device_id,
    kind: row.kind,
    from: row.from_state,
    to: row.to_state,
    updateId: row.update_id,
    reportedUpdateId: row.reported_update_id,
    at: row.at.toISOString(),
    reportedAt: row.reported_at,
    protocol: row.protocol,
    error: row.error,
  };
}

function limitOf(limit: number | undefined, fallback: number | null): number | null {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new ManifestError('fleet query', [{ path: 'limit', expected: 'a non-negative integer' }]);
  }
  return limit;
}

/**
 * A {@link FleetStore} in PostgreSQL. Open it with {@link PostgresFleetStore.open}, which runs
 * the migrations.
 *
 * @example
 * ```ts
 * const store = await PostgresFleetStore.open({ connectionString: process.env.DATABASE_URL })
 * const fleet = new Fleet({ store })
 * // …
 * await store.close()
 * ```
 */
export class PostgresFleetStore implements FleetStore {
  readonly #pool: PgPool;
  readonly #ownsPool: boolean;
  readonly #s: string;
  readonly #secrets: string[];
  readonly #names: { lock: string; write: string };
  #closed = false;

  private constructor(pool: PgPool, ownsPool: boolean, schema: string, secrets: string[]) {
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#s = quotedSchema(schema);
    this.#secrets = secrets;
    // Prepared statement names are per connection; the schema keeps two stores on one pool apart.
    this.#names = { lock: `otakit_fleet_lock_${schema}`, write: `otakit_fleet_write_${schema}` };
  }

  /**
   * Connects (or takes `pool`), migrates unless told not to, and returns the store.
   * @throws ManifestError for bad options (naming the field); StoreError when the database
   *   cannot be reached or migrated (never with the connection string or password in it).
   */
  static async open(options: PostgresFleetStoreOptions): Promise<PostgresFleetStore> {
    const { pool, ownsPool, schema, secrets } = openPool(options, 'PostgresFleetStore options');
    const store = new PostgresFleetStore(pool, ownsPool, schema, secrets);
    try {
      if (options.migrate !== false) await store.migrate();
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
    return store;
  }

  /** Applies pending migrations; returns their versions (done by `open` unless `migrate: false`). */
  async migrate(): Promise<number[]> {
    const client = await this.#connect();
    try {
      return await migrate(client, this.#s, this.#schemaName());
    } catch (error) {
      throw error instanceof StoreError
        ? error
        : pgStoreError('Migrating the fleet tables', error, this.#secrets);
    } finally {
      client.release();
    }
  }

  #schemaName(): string {
    return this.#s.slice(1, -1);
  }

  async #connect(): Promise<PgClient> {
    if (this.#closed) throw new StoreError('PostgresFleetStore is closed');
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw pgStoreError('Connecting to PostgreSQL', error, this.#secrets);
    }
  }

  async #query<Row>(what: string, text: string, values: unknown[]): Promise<Row[]> {
    if (this.#closed) throw new StoreError('PostgresFleetStore is closed');
    try {
      return (await this.#pool.query<Row>({ text, values })).rows;
    } catch (error) {
      throw pgStoreError(what, error, this.#secrets);
    }
  }

  async transact<T>(
    deviceIds: readonly string[],
    work: (devices: ReadonlyMap<string, StoredDevice>) => Promise<FleetWork<T>>,
  ): Promise<T> {
    const ids = [...new Set(deviceIds)];
    const client = await this.#connect();
    let step = 'Beginning a fleet transaction';
    let broken = false;
    try {
      await client.query('BEGIN');
      step = 'Locking and reading devices';
      const { rows } = await client.query<DeviceRow>({
        name: this.#names.lock,
        text: `SELECT * FROM ${this.#s}.otakit_fleet_lock_devices($1::text[])`,
        values: [ids],
      });
      const current = new Map(rows.map((row) => [row.device_id, toDevice(row)]));
      step = 'Running the fleet transaction';
      const { writes, result } = await work(current);
      step = 'Writing devices, history and anomalies';
      await this.#write(client, writes, new Set(ids));
      step = 'Committing the fleet transaction';
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: the pool must not hand it out again
      }
      if (error instanceof StoreError || step === 'Running the fleet transaction') throw error;
      throw pgStoreError(step, error, this.#secrets);
    } finally {
      client.release(broken);
    }
  }

  async #write(client: PgClient, writes: FleetWrites, locked: ReadonlySet<string>): Promise<void> {
    const { devices, history, anomalies } = writes;
    if (devices.length === 0 && history.length === 0 && anomalies.length === 0) return;
    for (const device of devices) {
      if (!locked.has(device.deviceId)) {
        throw new StoreError(`Write of device "${device.deviceId}" outside its transaction`);
      }
    }
    const deviceRows = devices.map((device) => ({
      device_id: device.deviceId,
      revision: device.revision,
      protocol: device.protocol,
      state: device.record.state,
      update_id: device.record.update?.id ?? null,
      version: device.record.update?.version ?? null,
      record: device.record,
      updated_at: device.record.updatedAt,
    }));
    const historyRows = history.map((entry) => ({
      device_id: entry.deviceId,
      from_state: entry.from,
      to_state: entry.to,
      at: entry.at,
      update_id: entry.updateId,
      skipped: entry.skipped ?? null,
      error: entry.error ?? null,
    }));
    const anomalyRows = anomalies.map((anomaly) => ({
      device_id: anomaly.deviceId,
      kind: anomaly.kind,
      from_state: anomaly.from,
      to_state: anomaly.to,
      update_id: anomaly.updateId,
      reported_update_id: anomaly.reportedUpdateId,
      at: anomaly.at,
      reported_at: anomaly.reportedAt,
      protocol: anomaly.protocol,
      error: anomaly.error,
    }));
    const s = this.#s;
    // One statement, one round trip: the three inserts as data-modifying CTEs. Each batch is one
    // JSON parameter (not a parameter per value), expanded by jsonb_to_recordset. A device row is
    // only replaced when its stored revision is the one the transaction read.
    const { rows } = await client.query<{ written: number }>({
      name: this.#names.write,
      text: `
WITH
  devices AS (
    INSERT INTO ${s}.otakit_fleet_devices AS t
      (device_id, revision, protocol, state, update_id, version, record, updated_at)
    SELECT x.device_id, x.revision, x.protocol, x.state, x.update_id, x.version, x.record, x.updated_at
    FROM jsonb_to_recordset($1::jsonb) AS x(device_id text, revision bigint, protocol text, state text,
      update_id text, version text, record jsonb, updated_at timestamptz)
    ON CONFLICT (device_id) DO UPDATE SET
      revision = EXCLUDED.revision, protocol = EXCLUDED.protocol, state = EXCLUDED.state,
      update_id = EXCLUDED.update_id, version = EXCLUDED.version, record = EXCLUDED.record,
      updated_at = EXCLUDED.updated_at
    WHERE t.revision = EXCLUDED.revision - 1
    RETURNING 1
  ),
  history AS (
    INSERT INTO ${s}.otakit_fleet_history (device_id, from_state, to_state, at, update_id, skipped, error)
    SELECT x.device_id, x.from_state, x.to_state, x.at, x.update_id, x.skipped, x.error
    FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (device_id text, from_state text, to_state text,
      at timestamptz, update_id text, skipped jsonb, error jsonb)) WITH ORDINALITY
      AS x(device_id, from_state, to_state, at, update_id, skipped, error, n)
    ORDER BY x.n
  ),
  anomalies AS (
    INSERT INTO ${s}.otakit_fleet_anomalies
      (device_id, kind, from_state, to_state, update_id, reported_update_id, at, reported_at, protocol, error)
    SELECT x.device_id, x.kind, x.from_state, x.to_state, x.update_id, x.reported_update_id, x.at,
      x.reported_at, x.protocol, x.error
    FROM ROWS FROM (jsonb_to_recordset($3::jsonb) AS (device_id text, kind text, from_state text,
      to_state text, update_id text, reported_update_id text, at timestamptz, reported_at text,
      protocol text, error jsonb)) WITH ORDINALITY
      AS x(device_id, kind, from_state, to_state, update_id, reported_update_id, at, reported_at, protocol, error, n)
    ORDER BY x.n
  )
SELECT count(*)::int AS written FROM devices`,
      values: [JSON.stringify(deviceRows), JSON.stringify(historyRows), JSON.stringify(anomalyRows)],
    });
    const written = rows[0]?.written ?? 0;
    if (written !== devices.length) {
      // A device row was not at the revision read: something wrote it without the lock.
      throw new StoreError(
        `Fleet write refused: ${devices.length - written} of ${devices.length} devices were changed by another writer`,
        { retryable: true },
      );
    }
  }

  async device(deviceId: string): Promise<StoredDevice | undefined> {
    const rows = await this.#query<DeviceRow>(
      'Reading a device',
      `SELECT device_id, revision, protocol, record FROM ${this.#s}.otakit_fleet_devices WHERE device_id = $1`,
      [deviceId],
    );
    return rows[0] === undefined ? undefined : toDevice(rows[0]);
  }

  async devices(query: DeviceQuery = {}): Promise<StoredDevice[]> {
    const states =
      query.state === undefined ? null : typeof query.state === 'string' ? [query.state] : [...query.state];
    for (const state of states ?? []) {
      if (!(UPDATE_STATES as readonly string[]).includes(state)) {
        throw new ManifestError('fleet query', [{ path: 'state', expected: 'update states' }]);
      }
    }
    const rows = await this.#query<DeviceRow>(
      'Listing devices',
      `SELECT device_id, revision, protocol, record FROM ${this.#s}.otakit_fleet_devices
       WHERE ($1::text[] IS NULL OR state = ANY ($1::text[])) AND ($2::text IS NULL OR device_id > $2::text)
       ORDER BY device_id LIMIT $3`,
      [states, query.after ?? null, limitOf(query.limit, null)],
    );
    return rows.map(toDevice);
  }

  async counts(): Promise<StateCounts> {
    const rows = await this.#query<{ state: UpdateState; count: number }>(
      'Counting devices by state',
      `SELECT state, count(*)::int AS count FROM ${this.#s}.otakit_fleet_devices GROUP BY state`,
      [],
    );
    const counts = emptyCounts();
    for (const row of rows) if (row.state in counts) counts[row.state] = row.count;
    return counts;
  }

  async history(deviceId: string, query: HistoryQuery = {}): Promise<FleetHistoryEntry[]> {
    const rows = await this.#query<HistoryRow>(
      'Reading device history',
      `SELECT device_id, from_state, to_state, at, update_id, skipped, error FROM ${this.#s}.otakit_fleet_history
       WHERE device_id = $1 ORDER BY id DESC LIMIT $2`,
      [deviceId, limitOf(query.limit, 100)],
    );
    return rows.reverse().map(toHistory);
  }

  async anomalies(query: AnomalyQuery = {}): Promise<FleetAnomaly[]> {
    const rows = await this.#query<AnomalyRow>(
      'Reading anomalies',
      `SELECT device_id, kind, from_state, to_state, update_id, reported_update_id, at, reported_at, protocol, error
       FROM ${this.#s}.otakit_fleet_anomalies
       WHERE ($1::text IS NULL OR device_id = $1::text) AND ($2::text IS NULL OR kind = $2::text)
       ORDER BY id DESC LIMIT $3`,
      [query.deviceId ?? null, query.kind ?? null, limitOf(query.limit, 100)],
    );
    return rows.map(toAnomaly);
  }

  /** Closes the pool it opened (a pool given as `pool` stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsPool) await this.#pool.end().catch(() => {});
  }
}
