/**
 * The root entry `otakit` must stay browser-safe (web standards only: no `node:*`, no Node
 * builtins, no `mqtt`), because dashboards ship it to browsers. We bundle `src/index.ts` the way a
 * browser app would (esbuild, platform `browser`, zod and every dependency bundled in) and read
 * esbuild's metafile.
 *
 * Forbidden modules are marked external instead of failing the build, so esbuild records them
 * in the metafile and a failure names every offender and the file that imports it. The control
 * cases bundle `otakit/node` and `otakit/mqtt` the same way to prove the detector does detect.
 *
 * Sizes are not measured on `src/`: what a consumer pays depends on how the package is built
 * (a single-file dist/index.js once cost twice what src/ measured), so the budgets are measured on
 * the packed tarball installed in a fresh project, by scripts/bundle-budgets.mjs, run at the end
 * of this file (when dist/ is built) and by scripts/check-package.mjs.
 */
import { existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUDGETS, measurePackedPackage, report } from '../scripts/bundle-budgets.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

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

/**
 * The bundle-size budgets, on the package as consumers install it: `npm pack`, install the tarball
 * and zod in a fresh temp project, bundle the consumer entries of scripts/bundle-budgets.mjs
 * (dashboard, machine alone, full root) with esbuild and gzip them. Needs a built dist/ (CI runs
 * `npm run build` before the tests); skipped without one, since it would measure nothing.
 */
describe.skipIf(!existsSync(`${ROOT}/dist/index.js`))('bundle budgets of the packed package', () => {
  it('every consumer bundle is within its gzip budget', { timeout: 180_000 }, async () => {
    const results = await measurePackedPackage();
    const lines: string[] = [];
    report(results, (line) => lines.push(line));
    console.log(`bundle budgets (packed tarball, consumer bundles, gzip):\n${lines.join('\n')}`);
    expect(results.map((result) => result.name)).toEqual(BUDGETS.map((budget) => budget.name));
    const over = results
      .filter((result) => !result.ok)
      .map(
        (result) =>
          `${result.name}: ${(result.gzipBytes / 1024).toFixed(1)} KB > ${result.budgetBytes / 1024} KB`,
      );
    expect(over).toEqual([]);
  });
});
