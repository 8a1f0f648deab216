#!/usr/bin/env node
/**
 * Bundle-size budgets, measured on the package as a consumer installs it (not on `src/`):
 *
 *  1. `npm pack` the built package (run `npm run build` first) into a temp dir;
 *  2. install the tarball and its peer `zod` into a fresh temp project outside the repo;
 *  3. bundle each consumer entry below with esbuild the way a browser app would (ESM, platform
 *     `browser`, minified, every dependency bundled, zod included: a consumer ships it too, code
 *     splitting on: dynamic imports become lazy chunks, reported but not budgeted);
 *  4. gzip each bundle, compare it with its budget, print the figures with the largest inputs
 *     (from esbuild's metafile, so a regression names its culprit), write
 *     `bench/results/bundle.json`, and exit 1 if a budget is exceeded.
 *
 * Usage: `node scripts/bundle-budgets.mjs` (KEEP_TMP=1 keeps the temp dirs; NO_WRITE=1 skips
 * writing bench/results/bundle.json). scripts/check-package.mjs calls `measureBundles` on the
 * project it has already installed, so CI packs once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const KB = 1024;

/**
 * What consumers import, and the gzip ceiling of each bundle. The sources are written to files in
 * the consumer project and bundled from there, so `otakit` resolves through the installed
 * package's `exports` map exactly as in a user's app.
 */
export const BUDGETS = [
  {
    name: 'dashboard',
    description:
      "snapshot, status and manifest schemas, STATUS_MAPPINGS, one decoder (decodeManifest from 'otakit/protocols/exosite')",
    source: `import { UpdateSnapshotSchema, UpdateStatusSchema, ManifestSchema, STATUS_MAPPINGS } from 'otakit';
import { decodeManifest } from 'otakit/protocols/exosite';
export const app = { UpdateSnapshotSchema, UpdateStatusSchema, ManifestSchema, STATUS_MAPPINGS, decode: decodeManifest };
`,
    budget: 40 * KB,
  },
  {
    // Recorded, not budgeted: the same app through the root's namespace. esbuild keeps every
    // member of an `export * as` namespace (evanw/esbuild#1420); rollup and rolldown drop them.
    name: 'dashboard (namespace import)',
    description: 'the dashboard importing exosite.decodeManifest through the root namespace',
    source: `import { UpdateSnapshotSchema, UpdateStatusSchema, ManifestSchema, STATUS_MAPPINGS, exosite } from 'otakit';
export const app = { UpdateSnapshotSchema, UpdateStatusSchema, ManifestSchema, STATUS_MAPPINGS, decode: exosite.decodeManifest };
`,
    budget: null,
  },
  {
    name: 'machine',
    description: 'createUpdateMachine and MemoryStore alone',
    source: `import { createUpdateMachine, MemoryStore } from 'otakit';
export const app = { createUpdateMachine, MemoryStore };
`,
    budget: 40 * KB,
  },
  {
    name: 'full root',
    description: "import * as otakit from 'otakit' (every export kept)",
    source: `import * as otakit from 'otakit';
export const app = otakit;
`,
    // 100 KB until 0.2: the root then gained the device agent and its channels, the shadow
    // clients, MQTT chunk transfers and the fleet (107.5 KB). Apps that import what they use
    // stay under the 40 KB budgets above; this one catches a runaway dependency.
    budget: 115 * KB,
  },
];

/**
 * The same consumer bundles measured before the ESM output became per-file (commit 97d298e:
 * dist/index.js one 278 KB file importing smol-toml and spark-md5 at its top), kept in
 * bench/results/bundle.json for comparison.
 */
const BASELINE = {
  commit: '97d298e',
  build: 'tsup, one ESM bundle per entry (dist/index.js ~278 KB)',
  gzipKB: { dashboard: 82.2, machine: 87.9, 'full root': 100.1 },
};

/** Runs a command, returns its output; throws with the output attached when it fails. */
export function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: process.env });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trimEnd();
  if (result.error) throw new Error(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) {
    const error = new Error(`\`${command} ${args.join(' ')}\` exited with ${result.status}`);
    error.output = output;
    throw error;
  }
  return { stdout: result.stdout, output };
}

/** `npm pack`s the repository into `packDir`; returns the tarball's path and npm's file list. */
export function pack(packDir) {
  if (!existsSync(join(root, 'dist'))) throw new Error('dist/ is missing: run `npm run build` first');
  const { stdout } = run('npm', ['pack', '--json', '--pack-destination', packDir], root);
  const [info] = JSON.parse(stdout);
  return { tarball: join(packDir, info.filename), info };
}

/** Installs `tarball` and `packages` into a new project at `projectDir`. */
export async function installConsumer(projectDir, tarball, packages) {
  await writeFile(
    join(projectDir, 'package.json'),
    `${JSON.stringify({ name: 'otakit-consumer-check', version: '0.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  // --prefer-offline: the peers are usually in the npm cache already (devDependencies).
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...packages], projectDir);
}

/** Groups a metafile output's inputs by package (or by otakit's dist/ file) with their bytes. */
function largestInputs(output, count) {
  const byGroup = new Map();
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
    const group = !match ? path : match[1] === 'otakit' ? `otakit/${match[2]}` : match[1];
    byGroup.set(group, (byGroup.get(group) ?? 0) + bytesInOutput);
  }
  return [...byGroup]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([input, bytes]) => ({ input, minifiedBytes: bytes }));
}

/**
 * Bundles every budget's source inside `projectDir` (which has otakit and zod installed) and
 * returns one result per budget: minified and gzip bytes, the budget, and the largest inputs.
 */
export async function measureBundles(projectDir) {
  const entries = join(projectDir, 'bundle-entries');
  await mkdir(entries, { recursive: true });
  const results = [];
  for (const budget of BUDGETS) {
    const file = join(entries, `${budget.name.replace(/\W+/g, '-')}.js`);
    await writeFile(file, budget.source);
    const outdir = join(projectDir, 'bundle-out', budget.name.replace(/\W+/g, '-'));
    // Code splitting on, as Vite, Rollup and webpack do by default: what an app loads at start
    // is the entry chunk and the chunks it imports statically. A dynamic `import()` (otakit's
    // pure-JS Ed25519 fallback, loaded only where WebCrypto lacks Ed25519) becomes a lazy chunk,
    // reported apart and not counted against the budget.
    const result = await build({
      entryPoints: [file],
      absWorkingDir: projectDir,
      bundle: true,
      splitting: true,
      outdir,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      minify: true,
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const outputs = result.metafile.outputs;
    const entry = Object.keys(outputs).find((path) => outputs[path].entryPoint !== undefined);
    const initial = new Set([entry]);
    for (const path of initial) {
      for (const { path: imported, kind } of outputs[path].imports) {
        if (kind === 'import-statement' && imported in outputs) initial.add(imported);
      }
    }
    const relative = (output) => output.path.slice(projectDir.length + 1);
    let gzipBytes = 0;
    let minifiedBytes = 0;
    let lazyGzipBytes = 0;
    for (const output of result.outputFiles) {
      if (!(relative(output) in outputs)) continue;
      const gzip = gzipSync(output.contents, { level: 9 }).byteLength;
      if (initial.has(relative(output))) {
        gzipBytes += gzip;
        minifiedBytes += output.contents.byteLength;
      } else lazyGzipBytes += gzip;
    }
    const inputs = {};
    for (const path of initial) {
      for (const [input, { bytesInOutput }] of Object.entries(outputs[path].inputs)) {
        inputs[input] = { bytesInOutput: (inputs[input]?.bytesInOutput ?? 0) + bytesInOutput };
      }
    }
    results.push({
      name: budget.name,
      description: budget.description,
      minifiedBytes,
      gzipBytes,
      lazyGzipBytes,
      budgetBytes: budget.budget,
      ok: budget.budget === null || gzipBytes <= budget.budget,
      inputFiles: Object.keys(inputs).length,
      largestInputs: largestInputs({ inputs }, 8),
    });
  }
  return results;
}

/** Prints the results; returns the over-budget ones. */
export function report(results, log = console.log) {
  for (const result of results) {
    log(
      `  ${result.budgetBytes === null ? 'info' : result.ok ? 'ok  ' : 'OVER'} ${result.name}: ${(result.gzipBytes / KB).toFixed(1)} KB gzip ` +
        `(${result.budgetBytes === null ? 'no budget' : `budget ${(result.budgetBytes / KB).toFixed(0)} KB`}; ${(result.minifiedBytes / KB).toFixed(1)} KB minified, ` +
        `${result.inputFiles} input files${result.lazyGzipBytes ? `; lazy chunks ${(result.lazyGzipBytes / KB).toFixed(1)} KB gzip, not counted` : ''})`,
    );
    const top = result.largestInputs
      .map(({ input, minifiedBytes }) => `${input} ${(minifiedBytes / KB).toFixed(1)}`)
      .join(', ');
    log(`       largest inputs (KB minified): ${top}`);
  }
  return results.filter((result) => !result.ok);
}

/** Writes the results to bench/results/bundle.json (the figures the README quotes). */
export async function writeResults(results, file = join(root, 'bench/results/bundle.json')) {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  const esbuildVersion = JSON.parse(
    await readFile(join(root, 'node_modules/esbuild/package.json'), 'utf8'),
  ).version;
  const document = {
    what: 'gzip (level 9) size of consumer bundles of the packed otakit tarball: esbuild, ESM, platform browser, minified, zod bundled, code splitting on (the entry chunk and its static imports; dynamic-import chunks in lazyGzipKB)',
    package: `${manifest.name}@${manifest.version}`,
    esbuild: esbuildVersion,
    node: process.version,
    measuredAt: new Date().toISOString(),
    baseline: BASELINE,
    bundles: results.map(
      ({ name, description, gzipBytes, minifiedBytes, lazyGzipBytes, budgetBytes, ok, largestInputs }) => ({
        name,
        description,
        gzipKB: Number((gzipBytes / KB).toFixed(1)),
        lazyGzipKB: Number((lazyGzipBytes / KB).toFixed(1)),
        minifiedKB: Number((minifiedBytes / KB).toFixed(1)),
        budgetKB: budgetBytes === null ? null : budgetBytes / KB,
        ok,
        gzipBytes,
        minifiedBytes,
        largestInputs,
      }),
    ),
  };
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(document, null, 2)}\n`);
}

/** Packs, installs in a fresh project, measures. Returns the results (and cleans up). */
export async function measurePackedPackage() {
  const packDir = await mkdtemp(join(tmpdir(), 'otakit-pack-'));
  const projectDir = await mkdtemp(join(tmpdir(), 'otakit-bundle-'));
  try {
    const { tarball } = pack(packDir);
    await installConsumer(projectDir, tarball, ['zod@^4']);
    return await measureBundles(projectDir);
  } finally {
    if (process.env.KEEP_TMP) {
      console.log(`kept ${packDir} and ${projectDir}`);
    } else {
      await rm(packDir, { recursive: true, force: true });
      await rm(projectDir, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const results = await measurePackedPackage();
    console.log('bundle budgets (packed tarball, consumer bundles, gzip):');
    const over = report(results);
    if (!process.env.NO_WRITE) await writeResults(results);
    if (over.length > 0) {
      console.log(`over budget: ${over.map((result) => result.name).join(', ')}`);
      process.exitCode = 1;
    }
  } catch (error) {
    if (error.output) console.log(error.output);
    console.log(`bundle budgets failed: ${error.message}`);
    process.exitCode = 1;
  }
}
