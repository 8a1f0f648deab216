/**
 * Collects JSON Schema (draft 2020-12, via zod 4's `z.toJSONSchema`) for every manifest and status
 * schema: the canonical ones and each protocol namespace's `jsonSchemas`. Input shape
 * (`io: 'input'`): what may be sent, before defaults and normalisation.
 */
import * as z from 'zod';
import * as otakit from '../src/index.js';

type SchemaTable = Record<string, z.ZodType>;

const CORE: SchemaTable = {
  manifest: otakit.ManifestSchema,
  'update-status': otakit.UpdateStatusSchema,
  'update-snapshot': otakit.UpdateSnapshotSchema,
};

/** Every export of the root entry that is a protocol namespace with a `jsonSchemas` table. */
function protocolTables(): [string, SchemaTable][] {
  return Object.entries(otakit as Record<string, unknown>)
    .filter(
      (entry): entry is [string, { jsonSchemas: SchemaTable }] =>
        typeof entry[1] === 'object' && entry[1] !== null && 'jsonSchemas' in entry[1],
    )
    .map(([name, namespace]) => [name, namespace.jsonSchemas]);
}

/** `[file name, JSON Schema]` for every schema, e.g. `['degu.deltaDocument.json', {...}]`. */
export function collectJsonSchemas(): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  for (const [prefix, table] of [['otakit', CORE] as [string, SchemaTable], ...protocolTables()]) {
    for (const [name, schema] of Object.entries(table)) {
      const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
      out.push([`${prefix}.${name}.json`, { title: `${prefix} ${name}`, ...json }]);
    }
  }
  return out;
}
