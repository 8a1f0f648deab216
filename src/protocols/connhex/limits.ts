/**
 * Documented limits of the Connhex codec. Every decoder checks its byte limit before parsing,
 * so an oversized input costs a length check, not a parse.
 *
 * @module
 */

/** Byte, length and count limits enforced by the Connhex decoders and encoders. */
export const LIMITS = {
  /**
   * Largest `agent.toml` accepted, in UTF-8 bytes. The file is the whole agent configuration, not
   * only `[ota]`, so this leaves room for inline certificates while refusing a runaway file.
   */
  maxConfigBytes: 128 * 1024,
  /** Deepest inline table/array nesting accepted in `agent.toml` (smol-toml `maxDepth`). */
  maxConfigDepth: 32,
  /** Largest `heartbeat.ota.service` payload accepted or produced, in UTF-8 bytes. */
  maxStatusBytes: 16 * 1024,
  /** Longest version string (status fields, `Version`/`Min-Version`/`Max-Version` headers). */
  maxVersionLength: 256,
  /** Longest `error` text the encoder writes; longer texts are cut and end with `…`. */
  maxErrorLength: 4096,
  /** Longest `last_checked` text the compatible (non-hardened) status schema accepts. */
  maxTimestampLength: 64,
  /** Longest Go duration text accepted (`2562047h47m16.854775807s`, the largest, has 24). */
  maxDurationLength: 64,
  /** Longest single HTTP header value the release-header parser reads. */
  maxHeaderValueLength: 8192,
  /** Longest address (URL requested, NATS subject) of a received message the codecs read. */
  maxAddressLength: 8192,
  /** Longest NATS subject accepted by the subject parser, in characters. */
  maxSubjectLength: 512,
  /** Longest file name taken from `Content-Disposition`. */
  maxFileNameLength: 255,
  /** Most entries a release `.zip` may list before it is refused (zip-bomb guard). */
  maxPackageEntries: 10_000,
  /** Longest entry name in a release `.zip`. */
  maxPackageEntryNameLength: 1024,
  /** Largest total uncompressed size of a release `.zip`, when entry sizes are known (2 GiB). */
  maxPackageBytes: 2 * 1024 * 1024 * 1024,
} as const;
