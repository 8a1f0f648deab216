/**
 * Byte and record limits of the Exosite codec, in one place. Every decoder checks its byte limit
 * before parsing anything, so an oversized value is refused in time proportional to nothing but
 * its length.
 *
 * @module
 */

/** Largest resource value Murano stores (1 MiB; docs/protocols/exosite.md, "Limits"). */
const RESOURCE_BYTES = 1_048_576;

/**
 * The documented limits. A value over a limit is refused with `MANIFEST_INVALID` (decoders) or
 * `CONFIG` (builders given bad arguments).
 */
export const LIMITS = {
  /**
   * UTF-8 bytes of one resource value (`config_otau`, `otau_in`), i.e. of the JSON string.
   * @default 1_048_576
   */
  resourceBytes: RESOURCE_BYTES,
  /**
   * Bytes of an `application/x-www-form-urlencoded` body: percent-encoding can triple a value,
   * plus room for aliases and separators.
   * @default 3_149_824
   */
  formBytes: 3 * RESOURCE_BYTES + 4096,
  /** Fields (aliases) in one form body or one read. @default 64 */
  formFields: 64,
  /** Bytes of one `$resource.batch` MQTT payload. @default 4_194_304 */
  batchBytes: 4 * RESOURCE_BYTES,
  /** Entries in one `$resource.batch` payload. @default 1000 */
  batchEntries: 1000,
  /** Characters of a resource alias. @default 128 */
  aliasLength: 128,
  /** Items of a `URL_LIST` payload. @default 1000 */
  payloadItems: 1000,
  /** Characters of one payload item (URL or content id). @default 8192 */
  urlLength: 8192,
  /** Characters of a manifest `version` and of a status `version`. @default 256 */
  versionLength: 256,
  /** Characters of a manifest `name`. @default 1024 */
  nameLength: 1024,
  /** Characters of a manifest `description`. @default 65_536 */
  descriptionLength: 65_536,
  /**
   * Characters of a status `message`. Decoders accept up to this; `statusFromCanonical` cuts
   * longer messages to it, because a stack trace does not belong in a dashboard.
   * @default 4096
   */
  messageLength: 4096,
  /** Characters of a device token (CIK). @default 256 */
  tokenLength: 256,
  /**
   * Longest `Request-Timeout` a long poll may ask for (docs/protocols/exosite.md, "HTTP device API").
   * @default 300_000
   */
  requestTimeoutMs: 300_000,
  /** Bytes of an HTTP response body that is not a resource read (activation, content info/list). @default 65_536 */
  smallBodyBytes: 65_536,
} as const;
