/**
 * The rollout store in PostgreSQL, through node-postgres: several orchestrator instances share
 * it, and a restarted one finds every rollout and device where it was.
 *
 * A step is one transaction holding the rollout row (`FOR UPDATE SKIP LOCKED` for a round, which
 * skips a rollout another instance holds; `FOR UPDATE` for an operator, who waits); its claims
 * lock device rows with `FOR UPDATE SKIP LOCKED` in plan order, and its writes are one UPDATE per
 * call. A settle is one UPDATE per batch, compare-and-set on each row's revision, locking its
 * rows in plan order first so two settles over the same devices never deadlock. Bulk values
 * travel as one array parameter per column (`unnest`), never as a statement per device.
 *
 * @module
 */
import { countDevice, emptyCounts } from '../cloud/rollout/counts.js';
import { checkDevices } from '../cloud/rollout/memory-store.js';
import type {
  RolloutClaim,
  RolloutDeviceChange,
  RolloutDeviceQuery,
  RolloutStepContext,
  RolloutStore,
} from '../cloud/rollout/store.js';
import type {
  RolloutCounts,
  RolloutDevice,
  RolloutDeviceState,
  RolloutFailureKind,
  RolloutRecord,
} from '../cloud/rollout/types.js';
import { ManifestError, OtaError, StoreError } from '../core/errors.js';
import { pgStoreError } from './errors.js';
import { migrate } from './migrations.js';
import { openPool } from './open-pool.js';
import type { PgClient, PgPool } from './pool.js';
import { quotedSchema } from './schema-name.js';

const OPTIONS = 'PostgresRolloutStore options';

/** Devices inserted per statement by `create` (each column one array parameter). */
const INSERT_CHUNK = 20_000;

export interface PostgresRolloutStoreOptions {
  /**
   * Where to connect, e.g. `postgres://otakit:secret@db.internal:5432/fleet`. Never printed: it
   * is masked in every error. Give this or `pool`.
   */
  connectionString?: string;
  /**
   * An existing pool (`new pg.Pool(...)`) to use instead; `close()` leaves it open, as its owner
   * closes it. A step holds a connection while it waits for the rollout (`wait: true`) and while
   * it runs: a pool shared with code the step's work calls needs room for both.
   */
  pool?: PgPool;
  /**
   * Connections of the pool opened for `connectionString`. A step holds one for its duration.
   * @default 10
   */
  maxConnections?: number;
  /**
   * The PostgreSQL schema of the tables (created when missing), shared with the fleet store's
   * tables of the same schema. A lower-case identifier.
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
  position: number;
  wave: number;
  state: RolloutDeviceState;
  attempts: number;
  owner: string | null;
  due_at: number | null;
  failure: RolloutFailureKind | null;
  error: { code: string; message: string } | null;
  updated_at: number;
  revision: string | number;
}

const DEVICE_COLUMNS =
  'device_id, position, wave, state, attempts, owner, due_at, failure, error, updated_at, revision';

function toDevice(row: DeviceRow): RolloutDevice {
  return {
    deviceId: row.device_id,
    wave: row.wave,
    position: row.position,
    state: row.state,
    attempts: row.attempts,
    owner: row.owner,
    dueAt: row.due_at,
    failure: row.failure,
    error: row.error,
    updatedAt: row.updated_at,
    revision: Number(row.revision),
  };
}

/** The changing columns of `devices`, one array each, in the order the SQL's `unnest` names them. */
function columns(devices: readonly RolloutDevice[]): unknown[][] {
  return [
    devices.map((device) => device.state),
    devices.map((device) => device.attempts),
    devices.map((device) => device.owner),
    devices.map((device) => device.dueAt),
    devices.map((device) => device.failure),
    devices.map((device) => (device.error === null ? null : JSON.stringify(device.error))),
    devices.map((device) => device.updatedAt),
    devices.map((device) => device.revision),
  ];
}

const CHANGE_TYPES = ['text', 'integer', 'text', 'float8', 'text', 'jsonb', 'float8', 'bigint'];
const CHANGE_NAMES = 'state, attempts, owner, due_at, failure, error, updated_at, revision';

/** The parameters `$first`… holding the arrays `columns` makes, typed for `unnest`. */
function changeParams(first: number): string {
  return CHANGE_TYPES.map((type, index) => `$${first + index}::${type}[]`).join(', ');
}

const SET_COLUMNS = (alias: string) =>
  `state = ${alias}.state, attempts = ${alias}.attempts, owner = ${alias}.owner, due_at = ${alias}.due_at, ` +
  `failure = ${alias}.failure, error = ${alias}.error, updated_at = ${alias}.updated_at, revision = ${alias}.revision`;

function limitOf(limit: number | undefined, what: string): number | null {
  if (limit === undefined) return null;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new ManifestError(what, [{ path: 'limit', expected: 'a non-negative integer' }]);
  }
  return limit;
}

function statesOf(state: RolloutDeviceState | readonly RolloutDeviceState[] | undefined): string[] | null {
  if (state === undefined) return null;
  return typeof state === 'string' ? [state] : [...state];
}

/** What a step's context holds while its transaction is open. */
interface StepScope {
  client: PgClient;
  rolloutId: string;
  waves: number;
  /** Positions claimed in this step (locked by its transaction: a second claim must not return them). */
  claimed: Set<number>;
  open: boolean;
}

/**
 * A {@link RolloutStore} in PostgreSQL. Open it with {@link PostgresRolloutStore.open}, which runs
 * the migrations.
 *
 * @example
 * ```ts
 * const store = await PostgresRolloutStore.open({ connectionString: process.env.DATABASE_URL })
 * const orchestrator = createRolloutOrchestrator({ store, fleet, dispatcher })
 * // …
 * await store.close()
 * ```
 */
export class PostgresRolloutStore implements RolloutStore {
  readonly #pool: PgPool;
  readonly #ownsPool: boolean;
  readonly #s: string;
  readonly #schema: string;
  readonly #secrets: string[];
  #closed = false;

  private constructor(pool: PgPool, ownsPool: boolean, schema: string, secrets: string[]) {
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#s = quotedSchema(schema, OPTIONS);
    this.#schema = schema;
    this.#secrets = secrets;
  }

  /**
   * Connects (or takes `pool`), migrates unless told not to, and returns the store.
   * @throws ManifestError for bad options (naming the field); StoreError when the database
   *   cannot be reached or migrated (never with the connection string or password in it).
   */
  static async open(options: PostgresRolloutStoreOptions): Promise<PostgresRolloutStore> {
    const { pool, ownsPool, schema, secrets } = openPool(options, OPTIONS);
    const store = new PostgresRolloutStore(pool, ownsPool, schema, secrets);
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
      return await migrate(client, this.#s, this.#schema);
    } catch (error) {
      throw error instanceof StoreError
        ? error
        : pgStoreError('Migrating the rollout tables', error, this.#secrets);
    } finally {
      client.release();
    }
  }

  async #connect(): Promise<PgClient> {
    if (this.#closed) throw new StoreError('PostgresRolloutStore is closed');
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw pgStoreError('Connecting to PostgreSQL', error, this.#secrets);
    }
  }

  async #query<Row>(what: string, text: string, values: unknown[], client?: PgClient): Promise<Row[]> {
    if (this.#closed) throw new StoreError('PostgresRolloutStore is closed');
    try {
      return (await (client ?? this.#pool).query<Row>({ text, values })).rows;
    } catch (error) {
      throw pgStoreError(what, error, this.#secrets);
    }
  }

  /** Runs `work` in a transaction on one connection: COMMIT after it, ROLLBACK if it throws. */
  async #transaction<T>(what: string, work: (client: PgClient) => Promise<T>): Promise<T> {
    const client = await this.#connect();
    let broken = false;
    try {
      await this.#query(`Beginning ${what}`, 'BEGIN', [], client);
      const result = await work(client);
      await this.#query(`Committing ${what}`, 'COMMIT', [], client);
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: the pool must not hand it out again
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async create(rollout: RolloutRecord, devices: readonly RolloutDevice[]): Promise<void> {
    checkDevices(devices);
    const s = this.#s;
    await this.#transaction('creating a rollout', async (client) => {
      const inserted = await this.#query(
        'Storing a rollout',
        `INSERT INTO ${s}.otakit_rollouts (id, state, revision, record) VALUES ($1, $2, $3, $4::jsonb)
         ON CONFLICT (id) DO NOTHING RETURNING 1`,
        [rollout.id, rollout.state, rollout.revision, JSON.stringify(rollout)],
        client,
      );
      if (inserted.length === 0)
        throw new OtaError('STATE', `A rollout with id "${rollout.id}" exists already`);
      for (let start = 0; start < devices.length; start += INSERT_CHUNK) {
        const chunk = devices.slice(start, start + INSERT_CHUNK);
        await this.#query(
          'Storing rollout devices',
          `INSERT INTO ${s}.otakit_rollout_devices (rollout_id, device_id, position, wave, ${CHANGE_NAMES})
           SELECT $1, u.* FROM unnest($2::text[], $3::integer[], $4::integer[], ${changeParams(5)})
             AS u(device_id, position, wave, ${CHANGE_NAMES})`,
          [
            rollout.id,
            chunk.map((device) => device.deviceId),
            chunk.map((device) => device.position),
            chunk.map((device) => device.wave),
            ...columns(chunk),
          ],
          client,
        );
      }
    });
  }

  async rollout(id: string): Promise<RolloutRecord | undefined> {
    const rows = await this.#query<{ record: RolloutRecord }>(
      'Reading a rollout',
      `SELECT record FROM ${this.#s}.otakit_rollouts WHERE id = $1`,
      [id],
    );
    return rows[0]?.record;
  }

  async rollouts(query: { states?: readonly RolloutRecord['state'][] } = {}): Promise<RolloutRecord[]> {
    const rows = await this.#query<{ record: RolloutRecord }>(
      'Listing rollouts',
      `SELECT record FROM ${this.#s}.otakit_rollouts
       WHERE $1::text[] IS NULL OR state = ANY ($1::text[]) ORDER BY created_seq DESC`,
      [query.states === undefined ? null : [...query.states]],
    );
    return rows.map((row) => row.record);
  }

  async step<T>(
    id: string,
    options: { wait: boolean },
    work: (
      rollout: RolloutRecord,
      context: RolloutStepContext,
    ) => Promise<{ rollout: RolloutRecord | null; result: T }>,
  ): Promise<{ held: true } | { held: false; found: false } | { held: false; found: true; result: T }> {
    const s = this.#s;
    return this.#transaction('a rollout step', async (client) => {
      const locked = await this.#query<{ revision: string; record: RolloutRecord }>(
        'Holding a rollout',
        `SELECT revision, record FROM ${s}.otakit_rollouts WHERE id = $1
         FOR UPDATE${options.wait ? '' : ' SKIP LOCKED'}`,
        [id],
        client,
      );
      const row = locked[0];
      if (row === undefined) {
        if (options.wait) return { held: false, found: false };
        // Skipped: held by another transaction, or absent? A plain read does not wait on the lock.
        const exists = await this.#query(
          'Looking up a rollout',
          `SELECT 1 FROM ${s}.otakit_rollouts WHERE id = $1`,
          [id],
          client,
        );
        return exists.length > 0 ? { held: true } : { held: false, found: false };
      }
      const revision = Number(row.revision);
      const scope: StepScope = {
        client,
        rolloutId: id,
        waves: row.record.plan?.waves?.length ?? 0,
        claimed: new Set(),
        open: true,
      };
      let outcome: { rollout: RolloutRecord | null; result: T };
      try {
        outcome = await work(row.record, this.#context(scope));
      } finally {
        scope.open = false;
      }
      const { rollout, result } = outcome;
      if (rollout !== null) {
        if (rollout.revision !== revision + 1) {
          throw new StoreError(
            `Rollout "${id}" written with revision ${rollout.revision}, expected ${revision + 1}`,
          );
        }
        await this.#query(
          'Writing a rollout',
          `UPDATE ${s}.otakit_rollouts SET state = $2, revision = $3, record = $4::jsonb WHERE id = $1`,
          [id, rollout.state, rollout.revision, JSON.stringify(rollout)],
          client,
        );
      }
      return { held: false, found: true, result };
    });
  }

  #context(scope: StepScope): RolloutStepContext {
    const live = () => {
      if (!scope.open) throw new StoreError(`The step on rollout "${scope.rolloutId}" has ended`);
    };
    return {
      counts: async () => {
        live();
        return this.#counts(scope.rolloutId, scope.waves, scope.client);
      },
      claim: async (claim) => {
        live();
        return this.#claim(scope, claim);
      },
      write: async (devices) => {
        live();
        await this.#write(scope, devices);
      },
    };
  }

  async #claim(scope: StepScope, claim: RolloutClaim): Promise<RolloutDevice[]> {
    const limit = limitOf(claim.limit, 'rollout claim') ?? 0;
    const states = [...new Set(claim.states)];
    if (limit === 0 || states.length === 0) return [];
    // Built to its shape, so the planner sees plain predicates: one state walks the
    // (rollout, state, position) index in order; a due time takes the (rollout, state, due_at) one.
    const values: unknown[] = [scope.rolloutId];
    const where = ['rollout_id = $1'];
    if (states.length === 1) {
      values.push(states[0]);
      where.push(`state = $${values.length}`);
    } else {
      values.push(states);
      where.push(`state = ANY ($${values.length}::text[])`);
    }
    if (claim.dueBy !== undefined) {
      values.push(claim.dueBy);
      where.push(`due_at <= $${values.length}::float8`);
    }
    if (claim.maxWave !== undefined) {
      values.push(claim.maxWave);
      where.push(`wave <= $${values.length}::float8`);
    }
    if (scope.claimed.size > 0) {
      // SKIP LOCKED skips rows other transactions hold, not this one's: leave out what it claimed.
      values.push([...scope.claimed]);
      where.push(`position <> ALL ($${values.length}::integer[])`);
    }
    values.push(limit);
    const rows = await this.#query<DeviceRow>(
      'Claiming rollout devices',
      `SELECT ${DEVICE_COLUMNS} FROM ${this.#s}.otakit_rollout_devices
       WHERE ${where.join(' AND ')}
       ORDER BY position LIMIT $${values.length}
       FOR UPDATE SKIP LOCKED`,
      values,
      scope.client,
    );
    for (const row of rows) scope.claimed.add(row.position);
    return rows.map(toDevice);
  }

  async #write(scope: StepScope, devices: readonly RolloutDevice[]): Promise<void> {
    // The last write of a position wins, as when each is applied in turn.
    const byPosition = new Map<number, RolloutDevice>();
    for (const device of devices) {
      if (!scope.claimed.has(device.position)) {
        throw new StoreError(`Rollout step wrote device "${device.deviceId}" without claiming it`);
      }
      byPosition.set(device.position, device);
    }
    if (byPosition.size === 0) return;
    const rows = [...byPosition.values()];
    const s = this.#s;
    await this.#query(
      'Writing rollout devices',
      `UPDATE ${s}.otakit_rollout_devices AS d SET ${SET_COLUMNS('u')}
       FROM unnest($2::integer[], ${changeParams(3)}) AS u(position, ${CHANGE_NAMES})
       WHERE d.rollout_id = $1 AND d.position = ANY ($2::integer[]) AND d.position = u.position`,
      [scope.rolloutId, rows.map((device) => device.position), ...columns(rows)],
      scope.client,
    );
  }

  async settle(id: string, changes: readonly RolloutDeviceChange[]): Promise<RolloutDevice[]> {
    if (this.#closed) throw new StoreError('PostgresRolloutStore is closed');
    // A device changed twice in one batch is changed in turn: the k-th change of each device
    // goes in statement k (one UPDATE changes a row once).
    const rounds: Array<Array<{ index: number; change: RolloutDeviceChange }>> = [];
    const seen = new Map<string, number>();
    for (const [index, change] of changes.entries()) {
      if (change.next.revision !== change.expected.revision + 1) continue;
      const round = seen.get(change.expected.deviceId) ?? 0;
      seen.set(change.expected.deviceId, round + 1);
      if (rounds[round] === undefined) rounds[round] = [];
      rounds[round].push({ index, change });
    }
    const applied: Array<RolloutDevice | undefined> = [];
    const s = this.#s;
    for (const round of rounds) {
      const next = round.map(({ change }) => change.next);
      // Rows locked in plan order first (so two settles over the same devices wait on each other
      // instead of deadlocking); a row a step holds is waited for, then compared with what the
      // step committed. MATERIALIZED: the locking runs once, before the UPDATE.
      const rows = await this.#query<DeviceRow>(
        'Settling rollout devices',
        `WITH c AS MATERIALIZED (
           SELECT * FROM unnest($2::text[], $3::bigint[], ${changeParams(4)})
             AS c(device_id, expected, ${CHANGE_NAMES})
         ),
         locked AS MATERIALIZED (
           SELECT d.device_id FROM ${s}.otakit_rollout_devices AS d JOIN c ON c.device_id = d.device_id
           WHERE d.rollout_id = $1 AND d.device_id = ANY ($2::text[]) AND d.revision = c.expected
           ORDER BY d.position
           FOR UPDATE OF d
         )
         UPDATE ${s}.otakit_rollout_devices AS d SET ${SET_COLUMNS('c')}
         FROM c JOIN locked ON locked.device_id = c.device_id
         WHERE d.rollout_id = $1 AND d.device_id = ANY ($2::text[]) AND d.device_id = c.device_id
           AND d.revision = c.expected
         RETURNING ${DEVICE_COLUMNS.split(', ')
           .map((column) => `d.${column}`)
           .join(', ')}`,
        [
          id,
          round.map(({ change }) => change.expected.deviceId),
          round.map(({ change }) => change.expected.revision),
          ...columns(next),
        ],
      );
      const byId = new Map(rows.map((row) => [row.device_id, toDevice(row)]));
      for (const { index, change } of round) applied[index] = byId.get(change.expected.deviceId);
    }
    return applied.filter((device): device is RolloutDevice => device !== undefined);
  }

  async devicesById(id: string, deviceIds: readonly string[]): Promise<Map<string, RolloutDevice>> {
    const found = new Map<string, RolloutDevice>();
    if (deviceIds.length === 0) {
      if (this.#closed) throw new StoreError('PostgresRolloutStore is closed');
      return found;
    }
    const rows = await this.#query<DeviceRow>(
      'Reading rollout devices',
      `SELECT ${DEVICE_COLUMNS} FROM ${this.#s}.otakit_rollout_devices
       WHERE rollout_id = $1 AND device_id = ANY ($2::text[])`,
      [id, [...new Set(deviceIds)]],
    );
    const byId = new Map(rows.map((row) => [row.device_id, toDevice(row)]));
    for (const deviceId of deviceIds) {
      const device = byId.get(deviceId);
      if (device !== undefined) found.set(deviceId, device);
    }
    return found;
  }

  async devices(id: string, query: RolloutDeviceQuery = {}): Promise<RolloutDevice[]> {
    const limit = limitOf(query.limit, 'rollout device query');
    const values: unknown[] = [id];
    const where = ['rollout_id = $1'];
    const states = statesOf(query.state);
    if (states !== null) {
      values.push(states);
      where.push(`state = ANY ($${values.length}::text[])`);
    }
    if (query.wave !== undefined) {
      values.push(query.wave);
      where.push(`wave = $${values.length}::float8`);
    }
    if (query.afterPosition !== undefined) {
      if (!Number.isInteger(query.afterPosition)) {
        throw new ManifestError('rollout device query', [
          { path: 'afterPosition', expected: 'a whole number' },
        ]);
      }
      values.push(query.afterPosition);
      where.push(`position > $${values.length}::bigint`);
    }
    let tail = '';
    if (limit !== null) {
      values.push(limit);
      tail = ` LIMIT $${values.length}`;
    }
    const rows = await this.#query<DeviceRow>(
      'Listing rollout devices',
      `SELECT ${DEVICE_COLUMNS} FROM ${this.#s}.otakit_rollout_devices
       WHERE ${where.join(' AND ')} ORDER BY position${tail}`,
      values,
    );
    return rows.map(toDevice);
  }

  async counts(id: string): Promise<RolloutCounts> {
    const rows = await this.#query<{ waves: number | null }>(
      'Reading a rollout',
      `SELECT jsonb_array_length(record -> 'plan' -> 'waves') AS waves FROM ${this.#s}.otakit_rollouts WHERE id = $1`,
      [id],
    );
    if (rows[0] === undefined) return emptyCounts(0);
    return this.#counts(id, rows[0].waves ?? 0);
  }

  /** Devices per wave, state and failure: one GROUP BY (on `client`, it sees the step's own writes). */
  async #counts(id: string, waves: number, client?: PgClient): Promise<RolloutCounts> {
    const rows = await this.#query<{
      wave: number;
      state: RolloutDeviceState;
      failure: RolloutFailureKind | null;
      n: number;
    }>(
      'Counting rollout devices',
      `SELECT wave, state, failure, count(*)::integer AS n FROM ${this.#s}.otakit_rollout_devices
       WHERE rollout_id = $1 GROUP BY wave, state, failure ORDER BY wave`,
      [id],
      client,
    );
    const counts = emptyCounts(waves);
    for (const row of rows) countDevice(counts, row, row.n);
    return counts;
  }

  /** Closes the pool it opened (a pool given as `pool` stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsPool) await this.#pool.end().catch(() => {});
  }
}
