import { defineConfig, type Options } from 'tsup';

/**
 * The public entries, one per `exports` subpath. `otakit` (browser-safe) never drags in
 * `otakit/node` or `otakit/mqtt`.
 */
const ENTRIES = {
  index: 'src/index.ts',
  'node/index': 'src/node/index.ts',
  'cloud/index': 'src/cloud/index.ts',
  'mqtt/index': 'src/mqtt/index.ts',
  'nats/index': 'src/nats/index.ts',
  'pg/index': 'src/pg/index.ts',
  'testing/index': 'src/testing/index.ts',
  // One subpath per device agent (`otakit/agents/insighio`): an agent process loads its own
  // platform's code only (`otakit/node` loads all six presets; bench/agent-footprint.ts).
  'agents/degu': 'src/node/agents/degu.ts',
  'agents/micropython-ota': 'src/node/agents/micropython-ota-entry.ts',
  'agents/insighio': 'src/node/agents/insighio.ts',
  'agents/connhex': 'src/node/agents/connhex.ts',
  'agents/exosite': 'src/node/agents/exosite.ts',
  'agents/thingsboard': 'src/node/agents/thingsboard.ts',
  // One subpath per protocol (`otakit/protocols/exosite`): the same module as the root's
  // namespace, imported flat, so a bundler keeps only the functions used (esbuild cannot drop
  // unused members of an `export * as` namespace).
  'protocols/degu/index': 'src/protocols/degu/index.ts',
  'protocols/micropython-ota/index': 'src/protocols/micropython-ota/index.ts',
  'protocols/insighio/index': 'src/protocols/insighio/index.ts',
  'protocols/connhex/index': 'src/protocols/connhex/index.ts',
  'protocols/exosite/index': 'src/protocols/exosite/index.ts',
  'protocols/thingsboard/index': 'src/protocols/thingsboard/index.ts',
};

const common: Options = {
  // `npm run build` empties dist/ once before tsup: these configs run in parallel, so a `clean`
  // in one of them could delete what another has just written.
  clean: false,
  sourcemap: true,
  target: 'es2022',
  // Peers stay external: the user's own zod/mqtt instance must be the one we validate with.
  external: ['zod', 'mqtt', '@nats-io/transport-node', 'pg'],
};

export default defineConfig([
  {
    // ESM: one output file per source file (dist/core/errors.js, dist/protocols/exosite/…), the
    // module graph of src/ kept as it is. With `sideEffects: false` a consumer's bundler (esbuild,
    // rollup, webpack) drops every module the app does not reach, and with it that module's
    // imports (smol-toml, spark-md5, ky…), without having to prove a single-file bundle's
    // top-level statements pure. Sources already import with `.js` extensions, so the output runs
    // in Node as is. Type-only source files become empty modules.
    ...common,
    // `*.cjs.ts`: CommonJS-only twins (see the CJS config's plugin).
    entry: ['src/**/*.ts', '!src/**/*.test.ts', '!src/**/*.d.ts', '!src/**/*.cjs.ts'],
    format: ['esm'],
    bundle: false,
    dts: false,
  },
  {
    // CJS: one bundle per entry (shared code in chunk-*.cjs). CommonJS consumers are Node
    // programs that `require()` the entry; they do not tree-shake, so per-file output buys them
    // nothing.
    ...common,
    entry: ENTRIES,
    format: ['cjs'],
    splitting: true,
    treeshake: true,
    dts: false,
    esbuildPlugins: [
      {
        // `otakit/mqtt`, `otakit/nats` and `otakit/pg` load their optional peer with a top-level
        // `await import()` so a missing one gets a clear error (src/mqtt/load-mqtt.ts…). CommonJS
        // has no top-level await: its bundle takes the `require()` twin, which behaves the same.
        name: 'otakit-cjs-peer-loaders',
        setup(build) {
          build.onResolve({ filter: /\/load-(mqtt|nats|pg)\.js$/ }, (args) => ({
            path: `${args.resolveDir}/${args.path.replace(/^.*\/(load-[a-z]+)\.js$/, '$1')}.cjs.ts`,
          }));
        },
      },
    ],
  },
  {
    // Declarations for every entry, ESM (.d.ts) and CJS (.d.cts), in one pass.
    ...common,
    entry: ENTRIES,
    format: ['esm', 'cjs'],
    dts: { only: true },
  },
]);
