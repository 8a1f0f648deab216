/**
 * Documented limits of the ThingsBoard codec. Byte limits are checked before parsing.
 *
 * @module
 */

export const LIMITS = {
  /**
   * Bytes of an attribute push or an attribute response. They carry every shared attribute of
   * the device, not only the `fw_*`/`sw_*` ones, hence more room than the package needs.
   */
  attributesBytes: 65_536,
  /** Bytes of one telemetry message (flat, `{ts, values}`, or an array of those). */
  telemetryBytes: 65_536,
  /** Entries of an array telemetry message. */
  telemetryEntries: 1000,
  /** Characters of a package title, version or tag (ThingsBoard's own column limit is 255). */
  textLength: 255,
  /** Characters of `fw_url`. */
  urlLength: 2048,
  /** Characters of the `fw_error` otakit writes; longer messages are cut, ending in `…`. */
  errorLength: 1024,
  /** Largest request id and chunk index in `v2/fw/…` and attribute topics (a Java `int`). */
  maxTopicNumber: 2_147_483_647,
  /**
   * Nesting of a whole attribute or telemetry message, checked before validation: deeper free-form
   * JSON (`[[[[…` fits 8,000 levels in 48 KB) would overflow the stack of zod and of `JSON.stringify`.
   */
  messageDepth: 32,
  /** Bytes of a chunk request payload (the chunk size as decimal text). */
  chunkRequestBytes: 10,
} as const;
