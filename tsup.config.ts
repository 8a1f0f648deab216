import { defineConfig } from 'tsup';

// One build for every public entry. Each entry is its own file in dist/ so that
// `otakit` (browser-safe) never drags in `otakit/node` or `otakit/mqtt`.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'node/index': 'src/node/index.ts',
    'mqtt/index': 'src/mqtt/index.ts',
    'testing/index': 'src/testing/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  splitting: true,
  treeshake: true,
  // Peers stay external: the user's own zod/mqtt instance must be the one we validate with.
  external: ['zod', 'mqtt'],
});
