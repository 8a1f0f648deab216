/**
 * What every PostgreSQL store of `otakit/pg` does on open: check its connection options (naming
 * the field), open a pool for a connection string or take the caller's, and remember which
 * secrets to mask in errors. One place, so the fleet store and the rollout store agree.
 *
 * @module
 */
import { ManifestError } from '../core/errors.js';
import { connectionSecrets, pgStoreError } from './errors.js';
import { pg } from './load-pg.js';
import type { PgPool } from './pool.js';
import { quotedSchema } from './schema-name.js';

/** The connection options shared by the stores. */
export interface PostgresConnectionOptions {
  connectionString?: string;
  pool?: PgPool;
  maxConnections?: number;
  schema?: string;
  migrate?: boolean;
}

export interface OpenedPool {
  pool: PgPool;
  /** The store opened the pool (and closes it); a pool given in stays its owner's. */
  ownsPool: boolean;
  schema: string;
  /** Strings to mask in every error (the connection string's password…). */
  secrets: string[];
}

/**
 * Checks `options` and opens (or takes) the pool.
 * @param what the options the errors name (`PostgresFleetStore options`)
 * @throws ManifestError naming the wrong field; StoreError when the pool cannot be configured.
 */
export function openPool(options: PostgresConnectionOptions, what: string): OpenedPool {
  const schema = options.schema ?? 'public';
  quotedSchema(schema, what);
  if ((options.connectionString === undefined) === (options.pool === undefined)) {
    throw new ManifestError(what, [
      { path: 'connectionString', expected: 'exactly one of connectionString and pool' },
    ]);
  }
  if (options.connectionString !== undefined && typeof options.connectionString !== 'string') {
    throw new ManifestError(what, [{ path: 'connectionString', expected: 'a string' }]);
  }
  const max = options.maxConnections ?? 10;
  if (!Number.isInteger(max) || max < 1) {
    throw new ManifestError(what, [{ path: 'maxConnections', expected: 'a positive integer' }]);
  }
  const secrets = connectionSecrets(options.connectionString);
  if (options.pool !== undefined) return { pool: options.pool, ownsPool: false, schema, secrets };
  let pool: PgPool;
  try {
    pool = new pg.Pool({ connectionString: options.connectionString, max }) as unknown as PgPool;
  } catch (error) {
    throw pgStoreError('Configuring the PostgreSQL pool', error, secrets);
  }
  // An idle connection that dies (server restart) must not crash the process.
  (pool as unknown as { on(event: 'error', listener: () => void): void }).on('error', () => {});
  return { pool, ownsPool: true, schema, secrets };
}
