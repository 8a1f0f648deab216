/**
 * The PostgreSQL schema the fleet's and the rollouts' tables live in. It is part of SQL text (identifiers cannot
 * be parameters), so it is checked against a strict pattern first and always quoted.
 *
 * @module
 */
import { ManifestError } from '../core/errors.js';

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * `schema` quoted for SQL, after checking it is a plain lower-case identifier.
 * @param what the options the error names
 */
export function quotedSchema(schema: string, what = 'PostgresFleetStore options'): string {
  if (typeof schema !== 'string' || !SCHEMA_PATTERN.test(schema)) {
    throw new ManifestError(what, [
      {
        path: 'schema',
        expected: 'a lower-case identifier: letters, digits, _ (at most 63, not starting with a digit)',
      },
    ]);
  }
  return `"${schema}"`;
}
