/**
 * The little of node-postgres the store uses, as structural types: `otakit/pg`'s declarations
 * then never reference `pg`'s own types, so a user without `@types/pg` still type-checks, and a
 * pool from any compatible client (a `pg.Pool`, a pool wrapped for tracing) is accepted.
 *
 * @module
 */

/** A query as node-postgres takes it: always parameterised (`$1`, `$2`…). */
export interface PgQuery {
  /** A prepared statement name, so the server parses a hot statement once per connection. */
  name?: string;
  text: string;
  values?: unknown[];
}

export interface PgResult<Row> {
  rows: Row[];
  rowCount: number | null;
}

/** A connection checked out of a pool. */
export interface PgClient {
  query<Row = Record<string, unknown>>(query: PgQuery | string): Promise<PgResult<Row>>;
  /** Returns it to the pool; with an error, the pool destroys it instead. */
  release(error?: Error | boolean): void;
}

/** A connection pool (`new pg.Pool(...)`). */
export interface PgPool {
  connect(): Promise<PgClient>;
  query<Row = Record<string, unknown>>(query: PgQuery | string): Promise<PgResult<Row>>;
  end(): Promise<void>;
}
