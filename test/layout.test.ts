/**
 * The layout's import rules, checked on every source file: data flows one way (wire → protocol
 * → canonical → machine), nothing imports back up, protocol folders never import each other, and
 * `node:*` and client libraries appear only in the Node-side folders. A new folder must be given
 * its place in LAYERS, so the rules cannot be skipped by accident.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../src');

/** Each top-level folder of src/ and the folders it may import from. */
const LAYERS: Record<string, readonly string[]> = {
  core: [],
  archive: ['core'],
  manifest: ['core'],
  protocols: ['core', 'archive', 'manifest'],
  transport: ['core', 'manifest', 'protocols'],
  machine: ['core', 'manifest', 'transport'],
  device: ['core', 'archive', 'manifest', 'protocols', 'transport', 'machine'],
  cloud: ['core', 'archive', 'manifest', 'protocols', 'transport', 'machine'],
  node: ['core', 'archive', 'manifest', 'protocols', 'transport', 'machine', 'device', 'cloud'],
  mqtt: ['core', 'transport', 'device', 'cloud'],
  nats: ['core', 'transport', 'device', 'cloud'],
  pg: ['core', 'manifest', 'machine', 'cloud'],
  testing: ['core', 'archive', 'manifest', 'protocols', 'transport', 'machine', 'device', 'cloud', 'node'],
  cli: [
    'core',
    'archive',
    'manifest',
    'protocols',
    'transport',
    'machine',
    'device',
    'cloud',
    'node',
    'mqtt',
    'nats',
    'pg',
  ],
};

/** Folders whose code runs in a browser: web standards only. */
const BROWSER_SAFE = new Set([
  'core',
  'archive',
  'manifest',
  'protocols',
  'transport',
  'machine',
  'device',
  'cloud',
]);

/** The shadow document model in protocols/degu/, which the shadow clients in transport/shadow/ use. */
const SHADOW_MODEL = new Set(['shadow-schemas.ts', 'topics.ts', 'json.ts', 'decode.ts', 'limits.ts']);

/** Files of src/protocols/ (outside the protocol folders) that may import the protocol folders: the registries. */
const REGISTRIES = new Set(['descriptors.ts', 'registry.ts', 'status-mappings.ts', 'secrets.ts']);

interface Import {
  file: string;
  specifier: string;
  /** The src-relative target for a relative import. */
  target?: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(path: string): Import[] {
  const source = readFileSync(path, 'utf8')
    // Examples in doc comments import 'otakit'; they are not imports of the module.
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const file = relative(SRC, path);
  const found: Import[] = [];
  for (const match of source.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
    const specifier = match[1]!;
    const entry: Import = { file, specifier };
    if (specifier.startsWith('.')) entry.target = relative(SRC, normalize(join(dirname(path), specifier)));
    found.push(entry);
  }
  return found;
}

const topOf = (srcRelative: string) => (srcRelative.includes(sep) ? srcRelative.split(sep)[0]! : '(entry)');
const all = sourceFiles(SRC).flatMap(importsOf);

describe('layout', () => {
  it('gives every folder of src/ a place in the layers', () => {
    const folders = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());
    expect(folders.filter((folder) => !(folder in LAYERS))).toEqual([]);
  });

  it('has no import that runs back up or sideways', () => {
    const violations = all
      .filter(({ file, target }) => {
        if (target === undefined) return false;
        const from = topOf(file);
        const to = topOf(target);
        if (from === '(entry)' || from === to) return false;
        return !(LAYERS[from] ?? []).includes(to);
      })
      .map(({ file, specifier }) => `${file} -> ${specifier}`);
    expect(violations).toEqual([]);
  });

  it('keeps protocol folders apart: each imports only itself, the shared contract files and lower layers', () => {
    const violations = all
      .filter(({ file, target }) => {
        if (target === undefined || topOf(file) !== 'protocols') return false;
        const parts = file.split(sep);
        if (topOf(target) !== 'protocols') return false;
        const targetParts = target.split(sep);
        const fromFolder = parts.length > 2 ? parts[1] : undefined;
        const toFolder = targetParts.length > 2 ? targetParts[1] : undefined;
        if (fromFolder === undefined) return toFolder !== undefined && !REGISTRIES.has(parts[1]!);
        return toFolder !== undefined && toFolder !== fromFolder;
      })
      .map(({ file, specifier }) => `${file} -> ${specifier}`);
    expect(violations).toEqual([]);
  });

  it('uses node:* and client libraries only outside the browser-safe folders', () => {
    const violations = all
      .filter(({ file, specifier }) => {
        const from = topOf(file);
        if (!BROWSER_SAFE.has(from) && from !== '(entry)') return false;
        return /^(node:|mqtt$|mqtt\/|@nats-io\/|pg$|commander$)/.test(specifier);
      })
      .map(({ file, specifier }) => `${file} -> ${specifier}`);
    expect(violations).toEqual([]);
  });

  it('never lets the machine or the transport import a protocol codec (only the light registry files)', () => {
    const violations = all
      .filter(({ file, target }) => {
        const from = topOf(file);
        if (target === undefined || (from !== 'machine' && from !== 'transport')) return false;
        if (topOf(target) !== 'protocols') return false;
        const parts = target.split(sep);
        // The AWS IoT Device Shadow clients speak the shadow documents whose model (schemas,
        // topics, limits) lives with Degu, the platform that runs on the shadow: that model,
        // not Degu's order codec.
        if (file.startsWith(join('transport', 'shadow') + sep)) {
          return !(parts[1] === 'degu' && SHADOW_MODEL.has(parts[2]!.replace(/\.js$/, '.ts')));
        }
        // contract.ts holds types only: the interfaces channels carry, not a codec.
        return (
          parts.length > 2 ||
          !['secrets', 'descriptors', 'contract'].includes(parts[1]!.replace(/\.(ts|js)$/, ''))
        );
      })
      .map(({ file, specifier }) => `${file} -> ${specifier}`);
    expect(violations).toEqual([]);
  });
});
