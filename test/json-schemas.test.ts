import { describe, expect, it } from 'vitest';
import { collectJsonSchemas } from '../scripts/json-schemas.js';

describe('JSON Schema export (dist/schemas)', () => {
  const schemas = new Map(collectJsonSchemas());

  it('has one for the canonical manifest, status and snapshot, and some for every protocol', () => {
    for (const name of ['otakit.manifest.json', 'otakit.update-status.json', 'otakit.update-snapshot.json']) {
      expect(schemas.has(name)).toBe(true);
    }
    for (const protocol of ['degu', 'micropythonOta', 'insighIo', 'connhex', 'exosite', 'thingsBoard']) {
      expect(
        [...schemas.keys()].filter((name) => name.startsWith(`${protocol}.`)).length,
        protocol,
      ).toBeGreaterThan(0);
    }
  });

  it('describes the manifest as a non-TypeScript validator needs it', () => {
    const manifest = schemas.get('otakit.manifest.json') as {
      $schema: string;
      required: string[];
      properties: { artifacts: { items: { properties: { md5: { pattern: string } } } } };
    };
    expect(manifest.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(manifest.required).toEqual(expect.arrayContaining(['id', 'version', 'artifacts']));
    expect(new RegExp(manifest.properties.artifacts.items.properties.md5.pattern).test('A'.repeat(32))).toBe(
      true,
    );
    expect(new RegExp(manifest.properties.artifacts.items.properties.md5.pattern).test('xyz')).toBe(false);
  });

  it('produces plain JSON for every schema', () => {
    for (const [name, schema] of schemas) {
      expect(JSON.parse(JSON.stringify(schema)), name).toEqual(schema);
      expect(schema.title, name).toBeTypeOf('string');
    }
  });
});
