/**
 * The documented limits of the insigh.io codec. Everything off the wire is checked against these
 * before it is parsed further, so a hostile or broken payload costs at most one bounded pass.
 *
 * @module
 */

/**
 * Byte, record and length limits of insigh.io messages, ids and packages.
 *
 * The console's order is about 100 bytes and a device status about 120, so the message limits
 * leave an order of magnitude of room while still refusing a 10 MB payload before `JSON.parse`
 * sees it, and a 100 000-record array (already parsed by the caller) before zod walks it.
 */
export const LIMITS = {
  /** Largest SenML payload accepted on the OTA topic, in UTF-8 bytes. */
  maxMessageBytes: 4096,
  /** Most records in one SenML pack (an order has 4, a status 2 or 3). */
  maxRecords: 32,
  /** Longest device, channel or file id, in characters. */
  maxIdLength: 128,
  /** Longest file type (extension including its dots, e.g. `.tar.gz`), in characters. */
  maxFileTypeLength: 32,
  /** Longest device key, in characters. */
  maxKeyLength: 256,
  /** Longest status message (`m`), in characters. */
  maxStatusMessageLength: 512,
  /** Longest MQTT topic {@link parseControlTopic} looks at, in characters. */
  maxTopicLength: 1024,
  /** Longest download URL {@link parseDownloadUrl} looks at, in characters. */
  maxUrlLength: 4096,
  /** Largest package accepted, and largest total of its unpacked tar, in bytes (64 MiB). */
  maxPackageBytes: 64 * 1024 * 1024,
  /** Most entries in a package's tar (pax headers included). */
  maxTarEntries: 10_000,
} as const;
