/**
 * Loads node-postgres for `otakit/pg`, CommonJS build: the `require()` twin of `load-pg.ts`,
 * which tsup.config.ts substitutes for it in the CJS bundle (CJS has no top-level await). Same
 * behaviour: a missing optional peer fails the `require('otakit/pg')` with a {@link MissingPgError}.
 *
 * @module
 */
import type * as PgModule from 'pg';
import { missingPgError } from './missing-peer.js';

type Pg = Pick<typeof PgModule, 'Pool'>;

let loaded: Pg;
try {
  const exports = require('pg') as Pg & { default?: Pg };
  loaded = typeof exports.Pool === 'function' ? exports : (exports.default ?? exports);
} catch (error) {
  throw missingPgError(error) ?? error;
}

/** node-postgres (`Pool`). */
export const pg: Pg = loaded;
