/**
 * Documented limits and defaults of the micropython_ota codec. Every decoder checks its byte
 * limit before it looks at the content, so an oversized input costs one length comparison.
 *
 * @module
 */

/**
 * Size limits. The reference client (v2.1.0) has none: it reads whatever the server sends into
 * the RAM of a microcontroller. otakit refuses anything larger than these, in every mode.
 */
export const LIMITS = {
  /** Bytes of a `version` file, remote or local. A tag is a short line; 1 KiB leaves room for a BOM and CRLF. */
  versionFileBytes: 1024,
  /** Characters of a version tag. */
  versionTagLength: 128,
  /** Characters of a project path (`sample`, or `fleet/sample`). */
  projectLength: 255,
  /** Characters of the host URL (`https://ota.example.com/base`). */
  hostLength: 2048,
  /** Characters of one file name, including sub-directories (`lib/util.py`). */
  filenameLength: 255,
  /** Files in one release (and entries in a PR #20 `manifest` file). */
  files: 256,
  /** Bytes of a release as JSON (see `decodeRelease`). */
  releaseBytes: 131_072,
  /** Bytes of a PR #20 `manifest` file (whitespace-separated file list). */
  fileListBytes: 65_536,
} as const;

/** Defaults of the reference client, kept so requests built here match it. */
export const DEFAULTS = {
  /** `timeout=5` seconds on every `urequests.get`. */
  timeoutMs: 5000,
  /** Staging directory the reference downloads into before copying (v2.1.0, issue #17). */
  stagingDir: 'tmp',
  /** Name of the version file, on the server (`<project>/version`) and on the device (cwd). */
  versionFile: 'version',
  /** Name of the optional file list of open PR #20 (`<version><sep>manifest`). */
  fileList: 'manifest',
} as const;
