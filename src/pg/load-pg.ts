/**
 * Loads node-postgres for `otakit/pg` (ESM build). A top-level `await import()` instead of a
 * static import, so a missing optional peer fails the import of `otakit/pg` with an error that
 * says what to install ({@link MissingPgError}) instead of Node's bare `ERR_MODULE_NOT_FOUND`.
 * The CommonJS build takes `load-pg.cjs.ts` instead (tsup.config.ts): CJS has no top-level await.
 *
 * @module
 */
import type * as PgModule from 'pg';
import { missingPgError } from './missing-peer.js';

type Pg = Pick<typeof PgModule, 'Pool'>;

let loaded: Pg;
try {
  const namespace = (await import('pg')) as Pg & { default?: Pg };
  // pg's ESM wrapper exports `Pool` by name; a bundler's CommonJS interop may give only `default`.
  loaded = typeof namespace.Pool === 'function' ? namespace : (namespace.default ?? namespace);
} catch (error) {
  throw missingPgError(error) ?? error;
}

/** node-postgres (`Pool`). */
export const pg: Pg = loaded;
