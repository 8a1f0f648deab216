/**
 * Writes every JSON Schema from `collectJsonSchemas()` into `dist/schemas/`, so tools outside
 * TypeScript can validate the same documents. Run by `npm run build` after tsup.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { collectJsonSchemas } from './json-schemas.js';

const outDirectory = join(import.meta.dirname, '..', 'dist', 'schemas');
await mkdir(outDirectory, { recursive: true });
const schemas = collectJsonSchemas();
for (const [file, schema] of schemas) {
  await writeFile(join(outDirectory, file), `${JSON.stringify(schema, null, 2)}\n`);
}
console.log(`JSON Schema: ${schemas.length} files in dist/schemas/`);
