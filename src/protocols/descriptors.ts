/**
 * The registry of protocols, light half: one descriptor per protocol (name, integrity, secrets,
 * status vocabulary), no codec code. `STATUS_MAPPINGS` and the secret lists derive from it, so a
 * dashboard that imports them pays for six small tables, not six codecs. The full protocol
 * objects are in `registry.ts`; a test fails when the two disagree.
 *
 * Adding a protocol: one folder under `src/protocols/`, one line here and one in `registry.ts`
 * (see docs/adding-a-protocol.md).
 *
 * @module
 */
import { descriptor as connhex } from './connhex/descriptor.js';
import { descriptor as degu } from './degu/descriptor.js';
import { descriptor as exosite } from './exosite/descriptor.js';
import { descriptor as insighIo } from './insighio/descriptor.js';
import { descriptor as micropythonOta } from './micropython-ota/descriptor.js';
import { descriptor as thingsBoard } from './thingsboard/descriptor.js';

export const PROTOCOL_DESCRIPTORS = {
  degu,
  micropythonOta,
  insighIo,
  connhex,
  exosite,
  thingsBoard,
} as const;

/** The name of a registered protocol. */
export type ProtocolName = keyof typeof PROTOCOL_DESCRIPTORS;

/** Every registered protocol's name, in registry order. */
export const PROTOCOL_NAMES = Object.keys(PROTOCOL_DESCRIPTORS) as ProtocolName[];
