/**
 * The registry of protocols, full half: every protocol object, both sides, by name. Device
 * agents, cloud services and the CLI pick a protocol here; the registry-driven test suites run
 * every protocol in it. The light half (`descriptors.ts`) must list the same names; a test fails
 * when they disagree.
 *
 * Importing this module pulls in all six codecs; a bundle that needs one protocol imports its
 * namespace (`import { degu } from 'otakit'`, `degu.protocol`) instead.
 *
 * @module
 */

import { OtaError } from '../core/errors.js';
import { protocol as connhex } from './connhex/protocol.js';
import type { Protocol } from './contract.js';
import { protocol as degu } from './degu/protocol.js';
import type { ProtocolName } from './descriptors.js';
import { protocol as exosite } from './exosite/protocol.js';
import { protocol as insighIo } from './insighio/protocol.js';
import { protocol as micropythonOta } from './micropython-ota/protocol.js';
import { protocol as thingsBoard } from './thingsboard/protocol.js';

export const PROTOCOLS = {
  degu,
  micropythonOta,
  insighIo,
  connhex,
  exosite,
  thingsBoard,
} as const satisfies { readonly [K in ProtocolName]: Protocol<K, string | number, unknown> };

/** A registered protocol object. */
export type AnyProtocol = (typeof PROTOCOLS)[ProtocolName];

/**
 * The protocol registered as `name`.
 * @throws OtaError `CONFIG` for a name that is not registered (listing those that are).
 */
export function protocolNamed(name: string): AnyProtocol {
  if (!Object.hasOwn(PROTOCOLS, name)) {
    throw new OtaError(
      'CONFIG',
      `Unknown protocol "${name.slice(0, 64)}": one of ${Object.keys(PROTOCOLS).join(', ')}`,
    );
  }
  return PROTOCOLS[name as ProtocolName];
}
