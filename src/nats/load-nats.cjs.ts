/**
 * Loads `@nats-io/transport-node` for `otakit/nats`, CommonJS build: the `require()` twin of
 * `load-nats.ts`, which tsup.config.ts substitutes for it in the CJS bundle (CJS has no
 * top-level await). Same behaviour: a missing optional peer fails `require('otakit/nats')` with
 * an error that says what to install.
 *
 * @module
 */
import type * as NatsModule from '@nats-io/transport-node';
import { missingNatsError } from './missing-peer.js';

type Nats = Pick<typeof NatsModule, 'connect'>;

let loaded: Nats;
try {
  loaded = require('@nats-io/transport-node') as Nats;
} catch (error) {
  throw missingNatsError(error) ?? error;
}

/** The NATS client for Node (`connect`). */
export const nats: Nats = loaded;
