import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { connhex, PROTOCOL_DESCRIPTORS } from '../../../src/index.js';

const folder = join(import.meta.dirname, '../../../src/protocols/connhex');

describe('Connhex module', () => {
  it('is browser-safe and imports no other protocol, machine, transport, device or cloud code', () => {
    for (const file of readdirSync(folder)) {
      const source = readFileSync(join(folder, file), 'utf8');
      expect(source, file).not.toMatch(/from '(node:|mqtt|nats)|\bBuffer\b|require\(/);
      for (const [, path] of source.matchAll(/^(?:import|export)[^;]*? from '([^']+)';/gms)) {
        // Outside its folder: the shared protocol vocabulary, core, and the canonical manifest.
        expect(path, `${file} imports ${path}`).toMatch(
          /^(zod|smol-toml|\.\/[a-z-]+\.js|\.\.\/(contract|conversion|losses|signed-statement|update-status)\.js|\.\.\/\.\.\/(core|manifest)\/[a-z-]+\.js)$/,
        );
      }
    }
  });

  it('cites its own documentation page, not research notes', () => {
    for (const file of readdirSync(folder)) {
      expect(readFileSync(join(folder, file), 'utf8'), file).not.toMatch(/PROTOCOLS|§/);
    }
  });

  it('exposes the protocol, its descriptor and target schema on the namespace', () => {
    expect(connhex.protocol.name).toBe('connhex');
    expect(connhex.descriptor).toBe(PROTOCOL_DESCRIPTORS.connhex);
    expect(connhex.protocol.targetSchema).toBe(connhex.TargetSchema);
    expect(connhex.protocol.jsonSchemas).toBe(connhex.jsonSchemas);
  });

  it('every JSON schema converts, the target one included', () => {
    for (const [name, schema] of Object.entries(connhex.jsonSchemas)) {
      expect(() => z.toJSONSchema(schema, { io: 'input' }), name).not.toThrow();
    }
    const target = z.toJSONSchema(connhex.TargetSchema, { io: 'input' });
    expect(target.required).toEqual(['initId']);
    expect(Object.keys(target.properties ?? {})).toContain('statusSubject');
  });
});
