/**
 * Emits JSON Schema (draft 2020-12, via zod 4's `z.toJSONSchema`) for every manifest and status
 * schema into `dist/schemas/`, so tools outside TypeScript can validate the same documents.
 * Run by `npm run build` after tsup. Input shape (`io: 'input'`): what may be sent, before defaults
 * and normalisation.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import * as otakit from '../src/index.js';

const outDirectory = join(import.meta.dirname, '..', 'dist', 'schemas');

type SchemaTable = Record<string, z.ZodType>;

const core: SchemaTable = {
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

await mkdir(outDirectory, { recursive: true });
const written: string[] = [];
for (const [prefix, table] of [['otakit', core] as [string, SchemaTable], ...protocolTables()]) {
  for (const [name, schema] of Object.entries(table)) {
    const file = `${prefix}.${name}.json`;
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
    await writeFile(
      join(outDirectory, file),
      `${JSON.stringify({ title: `${prefix} ${name}`, ...json }, null, 2)}\n`,
    );
    written.push(file);
  }
}
console.log(`JSON Schema: ${written.length} files in dist/schemas/`);
