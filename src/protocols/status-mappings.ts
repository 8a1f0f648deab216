/**
 * Every protocol's status vocabulary against the canonical states, both ways, including what a
 * protocol cannot express (`null`), derived from the protocol registry. Dashboards render it.
 *
 * @module
 */
import { PROTOCOL_DESCRIPTORS, type ProtocolName } from './descriptors.js';

/** The status mapping of each registered protocol. */
export type StatusMappings = {
  readonly [K in ProtocolName]: (typeof PROTOCOL_DESCRIPTORS)[K]['statusMapping'];
};

/**
 * @example
 * ```ts
 * STATUS_MAPPINGS.exosite.fromCanonical.downloading // 'DOWNLOAD'
 * STATUS_MAPPINGS.connhex.toCanonical.update_ready  // 'downloaded'
 * ```
 */
export const STATUS_MAPPINGS: StatusMappings = /* @__PURE__ */ (() =>
  Object.fromEntries(
    Object.entries(PROTOCOL_DESCRIPTORS).map(([name, descriptor]) => [name, descriptor.statusMapping]),
  ) as unknown as StatusMappings)();
