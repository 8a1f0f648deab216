/**
 * Loads `@nats-io/transport-node` for `otakit/nats` (ESM build). A top-level `await import()`
 * instead of a static import, so a missing optional peer fails the import of `otakit/nats` with
 * an error that says what to install ({@link missingNatsError}) instead of Node's bare
 * `ERR_MODULE_NOT_FOUND`. Bundlers still see the literal `import()` and bundle it. The CommonJS
 * build takes `load-nats.cjs.ts` instead (tsup.config.ts): CJS has no top-level await.
 *
 * @module
 */
import type * as NatsModule from '@nats-io/transport-node';
import { missingNatsError } from './missing-peer.js';

type Nats = Pick<typeof NatsModule, 'connect'>;

let loaded: Nats;
try {
  const namespace = (await import('@nats-io/transport-node')) as Nats & { default?: Nats };
  // The package is CommonJS: Node exposes its exports as `default` (and, detected, as names).
  loaded = typeof namespace.connect === 'function' ? namespace : (namespace.default ?? namespace);
} catch (error) {
  throw missingNatsError(error) ?? error;
}

/** The NATS client for Node (`connect`). */
export const nats: Nats = loaded;
