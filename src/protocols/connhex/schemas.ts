/**
 * Zod schemas of everything Connhex Edge puts on the wire or reads from a file: the
 * `heartbeat.ota.service` status payload, the `[ota]` section of `agent.toml`, and the release
 * metadata the cloud API returns in the headers of `HEAD /iot/ota/<initId>` and
 * `HEAD /iot/firmwares/<id>/artifact` (docs/protocols/connhex.md). No transforms, so each schema has a
 * JSON Schema form (`jsonSchemas`).
 *
 * @module
 */
import * as z from 'zod';
import { LIMITS } from './limits.js';

/** The nine `status` values of the Connhex OTA addon, in the order an update passes them. */
export const OTA_STATUSES = [
  'checking',
  'check_failed',
  'update_available',
  'downloading',
  'download_failed',
  'update_ready',
  'updating',
  'update_failed',
  'updated',
] as const;

export const OtaStatusSchema = z.enum(OTA_STATUSES);
/** One of the nine Connhex OTA status words. */
export type OtaStatus = z.output<typeof OtaStatusSchema>;

// Control characters in a version would let it smuggle a line break into a log line or a header.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;

// An entity tag (RFC 9110, section 8.8.3): quoted, no spaces or controls inside, optionally weak.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const ETAG = /^(?:W\/)?"[^"\u0000-\u0020\u007f]*"$/;

// A base name only: no separators, not `.` or `..`, no controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const FILE_NAME = /^(?!\.\.?$)[^/\\\u0000-\u001f\u007f]+$/;

const statusVersion = z
  .string()
  .max(LIMITS.maxVersionLength)
  .regex(NO_CONTROL, { error: 'a version string without control characters' });

/**
 * The `heartbeat.ota.service` payload, hardened: versions are bounded and free of control
 * characters, and `last_checked` is empty (never checked) or an RFC 3339 date-time, the form Go's
 * `time.Time` marshals to. The documentation lists all five fields; a missing string field reads as
 * `''` (a Go struct with `omitempty` would drop it), and unknown keys are ignored like Go does.
 */
export const StatusMessageSchema = z.object({
  /** The version installed now; `''` when the addon does not know it. */
  current_version: statusVersion.default(''),
  /** The version the last check found; `''` before the first successful check. */
  latest_version: statusVersion.default(''),
  status: OtaStatusSchema,
  /** What went wrong, for the `*_failed` statuses; `''` otherwise. */
  error: z.string().default(''),
  /** When the last check ran (RFC 3339), `''` before the first check. */
  last_checked: z
    .union([z.literal(''), z.iso.datetime({ offset: true })], {
      error: 'an empty string or an RFC 3339 date-time',
    })
    .default(''),
});

/**
 * The status payload as faithfully as the documentation allows (`strictCompat`): any strings, since
 * the `last_checked` format and version syntax are unconfirmed (docs/protocols/connhex.md, "Status messages").
 */
export const CompatStatusMessageSchema = z.object({
  current_version: z.string().default(''),
  latest_version: z.string().default(''),
  status: OtaStatusSchema,
  error: z.string().default(''),
  last_checked: z.string().max(LIMITS.maxTimestampLength).default(''),
});

/** A decoded `heartbeat.ota.service` payload (every field present). */
export type StatusMessage = z.output<typeof StatusMessageSchema>;
/** A status payload before defaults: the four strings may be left out. */
export type StatusMessageInput = z.input<typeof StatusMessageSchema>;

/**
 * The `[ota]` table of `agent.toml`, hardened: unknown keys are refused, because a typo such as
 * `auto_instal = true` would otherwise silently leave updates off. `check_interval` is a Go
 * duration string; its syntax is checked by the config parser, which names the exact problem.
 */
export const OtaSectionSchema = z
  .object({
    /** Download new releases without being asked. @default false */
    auto_download: z.boolean().optional(),
    /** Install downloaded releases (runs `update.sh`); implies `auto_download`. @default false */
    auto_install: z.boolean().optional(),
    /** Go duration between checks, e.g. `'24h0m0s'`. @default '1h' */
    check_interval: z.string().max(LIMITS.maxDurationLength).optional(),
  })
  .strict();

/** The `[ota]` table as the Go agent reads it (`strictCompat`): unknown keys are ignored. */
export const CompatOtaSectionSchema = OtaSectionSchema.strip();

/** The `[ota]` table as written in `agent.toml`. */
export type OtaSection = z.output<typeof OtaSectionSchema>;

/** `agent.toml` as far as OTA is concerned: an optional `[ota]` table, every other table kept. */
export const AgentConfigSchema = z.looseObject({
  ota: OtaSectionSchema.optional(),
});

/** Printable ASCII without surrounding spaces: what fits a quoted HTTP structured-field string. */
export const ReleaseVersionSchema = z
  .string()
  .max(LIMITS.maxVersionLength)
  .regex(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/, {
    error: 'a non-empty version of printable ASCII without surrounding spaces',
  });

/**
 * What a `HEAD` on the release endpoint says about the selected release, decoded from its
 * headers (`Version`, `Content-Length`, `Content-Digest`, `Min-Version`, `Max-Version`, `ETag`,
 * `Content-Type`, `Content-Disposition`).
 */
export const ReleaseMetadataSchema = z.object({
  /** The selected release's version (`Version` header, unquoted). */
  version: ReleaseVersionSchema,
  /** Size of the `.zip` in bytes (`Content-Length`). */
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  /** SHA-256 of the `.zip`, lowercase hex (from `Content-Digest`). */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { error: '64 lowercase hex characters (SHA-256)' })
    .optional(),
  /** Lowest installed version this release applies to, inclusive (`Min-Version`). */
  minVersion: ReleaseVersionSchema.optional(),
  /** Installed versions from this one up are not eligible, exclusive (`Max-Version`). */
  maxVersion: ReleaseVersionSchema.optional(),
  /** Entity tag of the selected release, for `If-Match` on the download (`ETag`). */
  etag: z
    .string()
    .max(LIMITS.maxHeaderValueLength)
    .regex(ETAG, { error: 'an entity tag such as "abc" or W/"abc"' })
    .optional(),
  /** Media type of the download, normally `application/octet-stream`. */
  contentType: z.string().min(1).max(256).regex(NO_CONTROL).optional(),
  /** File name from `Content-Disposition`, only when it is a safe base name. */
  fileName: z
    .string()
    .max(LIMITS.maxFileNameLength)
    .regex(FILE_NAME, { error: 'a file name without directories' })
    .optional(),
});
export type ReleaseMetadata = z.output<typeof ReleaseMetadataSchema>;

/** A release: where to `GET` it and what its `HEAD` said. The codec's wire-side value. */
export const ReleaseSchema = ReleaseMetadataSchema.extend({
  /** The release endpoint (`/iot/ota/<initId>` or `/iot/firmwares/<id>/artifact`). */
  url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }),
});
export type Release = z.output<typeof ReleaseSchema>;

/**
 * What the canonical manifest keeps in `extensions.connhex`, so a re-encode is lossless and an
 * installer knows the package rules: a `.zip` whose root `update.sh` is executed after extraction.
 */
export const ConnhexExtensionSchema = z.object({
  package: z.literal('zip'),
  entrypoint: z.literal('update.sh'),
  minVersion: ReleaseVersionSchema.optional(),
  maxVersion: ReleaseVersionSchema.optional(),
  etag: ReleaseMetadataSchema.shape.etag,
  contentType: ReleaseMetadataSchema.shape.contentType,
});
export type ConnhexExtension = z.output<typeof ConnhexExtensionSchema>;
