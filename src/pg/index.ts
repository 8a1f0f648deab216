/**
 * `otakit/pg`: the fleet store and the rollout store in PostgreSQL, over node-postgres (`pg`, an
 * optional peer dependency loaded only by this entry). Versioned migrations, per-device
 * transactions that several service instances can share, queries by state for dashboards; rollout
 * steps that hold a rollout with `FOR UPDATE SKIP LOCKED`. See docs/fleet.md.
 *
 * @example
 * ```ts
 * import { Fleet } from 'otakit'
 * import { PostgresFleetStore } from 'otakit/pg'
 *
 * const store = await PostgresFleetStore.open({ connectionString: process.env.DATABASE_URL })
 * const fleet = new Fleet({ store })
 * fleet.on('transition', ({ deviceId, to }) => console.log(deviceId, to))
 * ```
 *
 * @module
 */
export { MIGRATIONS, type Migration, SCHEMA_VERSION } from './migrations.js';
export { INSTALL_PG, MissingPgError } from './missing-peer.js';
export type { PgClient, PgPool, PgQuery, PgResult } from './pool.js';
export { PostgresFleetStore, type PostgresFleetStoreOptions } from './postgres-fleet-store.js';
export { PostgresRolloutStore, type PostgresRolloutStoreOptions } from './postgres-rollout-store.js';
