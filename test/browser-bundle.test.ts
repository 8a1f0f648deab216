/**
 * The root entry `otakit` must stay browser-safe (web standards only: no `node:*`, no Node
 * builtins, no `mqtt`) and small, because dashboards ship it to browsers. We bundle it the way a
 * browser app would (esbuild, platform `browser`, zod and every dependency bundled in) and read
 * esbuild's metafile.
 *
 * Forbidden modules are marked external instead of failing the build, so esbuild records them
 * in the metafile and a failure names every offender and the file that imports it. The control
 * cases bundle `otakit/node` and `otakit/mqtt` the same way to prove the detector does detect.
 */
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Gzip ceiling of the whole root entry, every export kept (zod included). Measured 97 KB: zod 4's
 * full build is ~27 KB of it, ky + spark-md5 + @noble/hashes ~10 KB, the machine and transport
 * ~12 KB, the six protocol codecs ~48 KB. Nobody ships all of it: `sideEffects: false` and
 * namespaced protocols let bundlers drop what an app does not import (see the typical-app budgets
 * below, which is where the 45 KB aim applies).
 */
const GZIP_CEILING_BYTES = 110 * 1024;

/** What typical browser apps import from `otakit`, and their gzip budgets after tree-shaking. */
const TYPICAL_APPS: { name: string; source: string; ceiling: number }[] = [
  {
    name: 'device machine only',
    source: `import { createUpdateMachine, parseManifest, MemoryStore } from './src/index.ts'; console.log(createUpdateMachine, parseManifest, MemoryStore);`,
    ceiling: 45 * 1024,
  },
  {
    name: 'dashboard (snapshot schema, transition table, waitFor, tracker)',
    source: `import { UpdateSnapshotSchema, TRANSITIONS, waitFor, createUpdateMachine } from './src/index.ts'; console.log(UpdateSnapshotSchema, TRANSITIONS, waitFor, createUpdateMachine);`,
    ceiling: 45 * 1024,
  },
  ...['degu', 'micropythonOta', 'insighIo', 'connhex', 'exosite', 'thingsBoard'].map((namespace) => ({
    name: `device machine + ${namespace}`,
    source: `import { createUpdateMachine, ${namespace} } from './src/index.ts'; console.log(createUpdateMachine, ${namespace}.toCanonical, ${namespace}.fromCanonical, ${namespace}.statusMapping);`,
    ceiling: 65 * 1024,
  })),
];

const NODE_BUILTINS = new Set(builtinModules.filter((name) => !name.startsWith('_')));

const MQTT = 'mqtt (optional peer, only for otakit/mqtt)';

/** Why an import `specifier` may not appear in a browser bundle, or undefined if it may. */
function forbiddenReason(specifier: string): string | undefined {
  if (specifier.startsWith('node:')) return 'node: module';
  // `fs/promises` and friends: the builtin is the first path segment.
  if (NODE_BUILTINS.has(specifier) || NODE_BUILTINS.has(specifier.split('/')[0] ?? '')) return 'Node builtin';
  if (specifier === 'mqtt' || specifier.startsWith('mqtt/')) return MQTT;
  return forbiddenInputReason(specifier);
}

/** Why a bundled file (a metafile input path, relative to the repo) may not be in the bundle. */
function forbiddenInputReason(path: string): string | undefined {
  if (path.startsWith('node:')) return 'node: module';
  if (/(^|\/)node_modules\/mqtt\//.test(path)) return MQTT;
  return undefined;
}

interface Offender {
  specifier: string;
  importer: string;
  reason: string;
}

/** Every forbidden import (and bundled input) found in an esbuild metafile. */
function findForbidden(metafile: Metafile): Offender[] {
  const offenders: Offender[] = [];
  for (const [input, info] of Object.entries(metafile.inputs)) {
    const inputReason = forbiddenInputReason(input);
    if (inputReason) offenders.push({ specifier: input, importer: '(bundled input)', reason: inputReason });
    for (const imported of info.imports) {
      const reason = forbiddenReason(imported.original ?? imported.path) ?? forbiddenReason(imported.path);
      if (reason) offenders.push({ specifier: imported.original ?? imported.path, importer: input, reason });
    }
  }
  return offenders;
}

interface BrowserBundle {
  code: string;
  metafile: Metafile;
}

async function bundleForBrowser(entry: string | { source: string }): Promise<BrowserBundle> {
  const result = await build({
    absWorkingDir: ROOT,
    ...(typeof entry === 'string'
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.source, resolveDir: ROOT, loader: 'ts' as const } }),
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    bundle: true,
    minify: true,
    metafile: true,
    write: false,
    logLevel: 'silent',
    // Externals instead of build errors, so the metafile lists the offenders (see module doc).
    // Everything else, zod and eventemitter3 included, is bundled as a browser app would.
    external: [
      'node:*',
      ...NODE_BUILTINS,
      ...[...NODE_BUILTINS].map((name) => `${name}/*`),
      'mqtt',
      'mqtt/*',
    ],
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild wrote no output for ${entry}`);
  return { code: output.text, metafile: result.metafile };
}

function describeOffenders(offenders: Offender[]): string[] {
  return offenders.map(
    ({ specifier, importer, reason }) => `${specifier} (${reason}) imported by ${importer}`,
  );
}

describe('browser bundle of the root entry `otakit` (src/index.ts)', () => {
  let bundled: BrowserBundle;
  beforeAll(async () => {
    bundled = await bundleForBrowser('src/index.ts');
  });

  it('imports no node: module, no Node builtin and no mqtt', () => {
    const { metafile } = bundled;
    expect(Object.keys(metafile.inputs).length).toBeGreaterThan(10);
    expect(describeOffenders(findForbidden(metafile))).toEqual([]);
  });

  it('bundles zod in (the dashboard validates manifests in the browser)', () => {
    const { metafile } = bundled;
    expect(Object.keys(metafile.inputs).some((input) => input.includes('node_modules/zod/'))).toBe(true);
  });

  it(`stays under ${GZIP_CEILING_BYTES / 1024} KB gzipped (minified, zod included)`, () => {
    const { code } = bundled;
    const gzipBytes = gzipSync(code, { level: 9 }).byteLength;
    console.log(
      `otakit browser bundle: ${(code.length / 1024).toFixed(1)} KB minified, ` +
        `${(gzipBytes / 1024).toFixed(1)} KB gzip (ceiling ${GZIP_CEILING_BYTES / 1024} KB)`,
    );
    expect(gzipBytes).toBeLessThan(GZIP_CEILING_BYTES);
  });
});

describe('tree-shaken size of what typical browser apps import', () => {
  for (const app of TYPICAL_APPS) {
    it(`${app.name}: under ${app.ceiling / 1024} KB gzipped`, async () => {
      const { code, metafile } = await bundleForBrowser({ source: app.source });
      expect(describeOffenders(findForbidden(metafile))).toEqual([]);
      const gzipBytes = gzipSync(code, { level: 9 }).byteLength;
      console.log(`${app.name}: ${(gzipBytes / 1024).toFixed(1)} KB gzip (ceiling ${app.ceiling / 1024} KB)`);
      expect(gzipBytes).toBeLessThan(app.ceiling);
    });
  }
});

describe('browser-bundle detector (control cases: it must flag what is really there)', () => {
  it('flags the Node builtins that `otakit/node` (src/node/index.ts) imports', async () => {
    const { metafile } = await bundleForBrowser('src/node/index.ts');
    const offenders = findForbidden(metafile);
    expect(offenders.length).toBeGreaterThan(0);
    expect(offenders.some((offender) => offender.specifier.startsWith('node:'))).toBe(true);
  });

  it('flags mqtt in `otakit/mqtt` (src/mqtt/index.ts)', async () => {
    const { metafile } = await bundleForBrowser('src/mqtt/index.ts');
    expect(findForbidden(metafile).map((offender) => offender.specifier)).toContain('mqtt');
  });

  it('recognises bare builtins, subpaths and node: specifiers, and lets packages through', () => {
    expect(forbiddenReason('fs')).toBe('Node builtin');
    expect(forbiddenReason('fs/promises')).toBe('Node builtin');
    expect(forbiddenReason('node:crypto')).toBe('node: module');
    expect(forbiddenReason('mqtt')).toBeDefined();
    expect(forbiddenReason('node_modules/mqtt/build/index.js')).toBeDefined();
    expect(forbiddenReason('zod')).toBeUndefined();
    expect(forbiddenReason('eventemitter3')).toBeUndefined();
    expect(forbiddenReason('src/core/errors.ts')).toBeUndefined();
  });
});
