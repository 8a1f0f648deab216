/**
 * The one table of PROTOCOLS.md §8.1: every system's status vocabulary against the canonical
 * states, both ways, including what a system cannot express (`null`). Dashboards render it;
 * tests check every entry round-trips.
 *
 * @module
 */
import { statusMapping as connhex } from './connhex/index.js';
import type { StatusMapping } from './conversion.js';
import { statusMapping as degu } from './degu/index.js';
import { statusMapping as exosite } from './exosite/index.js';
import { statusMapping as insighIo } from './insighio/index.js';
import { statusMapping as micropythonOta } from './micropython-ota/index.js';
import { statusMapping as thingsBoard } from './thingsboard/index.js';

/**
 * @example
 * ```ts
 * STATUS_MAPPINGS.exosite.fromCanonical.downloading // 'DOWNLOAD'
 * STATUS_MAPPINGS.connhex.toCanonical.update_ready  // 'downloaded'
 * ```
 */
export const STATUS_MAPPINGS = {
  degu,
  micropythonOta,
  insighIo,
  connhex,
  exosite,
  thingsBoard,
} as const satisfies Record<string, StatusMapping<string | number>>;

export type ProtocolName = keyof typeof STATUS_MAPPINGS;
