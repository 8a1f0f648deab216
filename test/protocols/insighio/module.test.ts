import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as insighIo from '../../../src/protocols/insighio/index.js';

const folder = join(import.meta.dirname, '../../../src/protocols/insighio');

describe('insigh.io module', () => {
  it('is browser-safe and pure: no node:*, no Buffer, no mqtt, no transport, no other protocol folder', () => {
    for (const file of readdirSync(folder)) {
      const source = readFileSync(join(folder, file), 'utf8');
      expect(source, file).not.toMatch(/from '(node:|mqtt)|\bBuffer\b|require\(/);
      for (const [, path] of source.matchAll(/^(?:import|export)[^;]*? from '([^']+)';/gms)) {
        expect(path, `${file} imports ${path}`).toMatch(
          /^(zod|\.\/[a-z-]+\.js|\.\.\/(contract|conversion|losses|signed-statement|update-status)\.js|\.\.\/\.\.\/(core|manifest|archive)\/[a-z-]+\.js)$/,
        );
      }
    }
  });

  it('exports the common names', () => {
    expect(insighIo.statusMapping.system).toBe('insighio');
    expect(typeof insighIo.toCanonical).toBe('function');
    expect(typeof insighIo.fromCanonical).toBe('function');
    expect(insighIo.LIMITS).toMatchObject({ maxMessageBytes: 4096, maxRecords: 32 });
    expect(Object.keys(insighIo.jsonSchemas)).toEqual(['senmlPack', 'order', 'status']);
  });
});
