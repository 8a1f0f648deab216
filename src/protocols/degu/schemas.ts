/**
 * The Degu profile over AWS IoT Device Shadow (docs/protocols/degu.md, "Shadow keys"): three
 * update items, each a download URL in `desired` and an MD5 in `desired` (target) and `reported`
 * (current).
 *
 * Digests are validated as 32 hex characters but kept as sent, not lower-cased by the schema:
 * `strictCompat` must reproduce the reference device's case-sensitive `strcmp` (vector D6), so
 * the decision code normalises, not the decoder. Everything this codec encodes is lowercase.
 *
 * @module
 */
import * as z from 'zod';
import { LIMITS } from './limits.js';
import { ClientTokenSchema, shadowMessageSchemas } from './shadow-schemas.js';

/** The update items, in the fixed order the device installs them (script → config → firmware). */
export const DEGU_ITEMS = ['script_user', 'config_user', 'firmware_system'] as const;
export type DeguItem = (typeof DEGU_ITEMS)[number];

/** The `desired`/`reported` key holding an item's MD5. */
export type DeguVerKey = `${DeguItem}_ver`;

/** The canonical artifact target of each item. */
export const DEGU_TARGETS = {
  script_user: 'script',
  config_user: 'config',
  firmware_system: 'firmware',
} as const satisfies Record<DeguItem, 'script' | 'config' | 'firmware'>;

/** The item of each canonical target Degu can carry. */
export const DEGU_ITEM_OF_TARGET = {
  script: 'script_user',
  config: 'config_user',
  firmware: 'firmware_system',
} as const satisfies Record<string, DeguItem>;

/** The item a canonical artifact target maps to; `undefined` for `package`, `file` and anything else. */
export function itemOfTarget(target: string): DeguItem | undefined {
  return Object.hasOwn(DEGU_ITEM_OF_TARGET, target)
    ? DEGU_ITEM_OF_TARGET[target as keyof typeof DEGU_ITEM_OF_TARGET]
    : undefined;
}

/** What each item is on the device: `/NAND:/main.py`, `/NAND:/CONFIG`, the signed MCUboot image. */
export const DEGU_FILE_NAMES = {
  script_user: 'main.py',
  config_user: 'CONFIG',
  firmware_system: 'degu.bin',
} as const satisfies Record<DeguItem, string>;

/** The key of an item's MD5. */
export function verKey(item: DeguItem): DeguVerKey {
  return `${item}_ver`;
}

/** What the device reports for a file that does not exist or cannot be opened. */
export const MISSING_FILE_MD5 = 'none';

/** An MD5 as 32 hex characters (either case accepted; see the module comment). */
export const Md5Schema = z.string().regex(/^[0-9a-fA-F]{32}$/, { error: '32 hex characters (MD5)' });

/** A reported MD5: 32 hex characters, or `"none"` for a missing file. */
export const ReportedMd5Schema = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{32}|none)$/, { error: '32 hex characters (MD5) or "none"' });

/**
 * A download URL. The gateway fetches it, so any scheme but http(s) is refused (hardening; the
 * reference accepts anything, which makes the gateway an SSRF vector: docs/protocols/degu.md,
 * "Security notes").
 */
export const DeguUrlSchema = z
  .url({ protocol: /^https?$/, error: 'an absolute http(s) URL' })
  .max(LIMITS.urlLength, { error: `a URL of at most ${LIMITS.urlLength} characters` });

/** The reported firmware version string, e.g. `1.0.0-rc1` (reported only, not in the docs). */
export const FirmwareVersionSchema = z.string().min(1).max(64);

/** `desired` as the shadow stores it: an update order. Other keys pass through (any JSON). */
export const DeguDesiredSchema = z
  .object({
    script_user: DeguUrlSchema.optional(),
    script_user_ver: Md5Schema.optional(),
    config_user: DeguUrlSchema.optional(),
    config_user_ver: Md5Schema.optional(),
    firmware_system: DeguUrlSchema.optional(),
    firmware_system_ver: Md5Schema.optional(),
  })
  .catchall(z.json());
export type DeguDesired = z.output<typeof DeguDesiredSchema>;

/** `desired` in a request: `null` removes a key (how an order is cleared). */
export const DeguDesiredPatchSchema = z
  .object({
    script_user: DeguUrlSchema.nullable().optional(),
    script_user_ver: Md5Schema.nullable().optional(),
    config_user: DeguUrlSchema.nullable().optional(),
    config_user_ver: Md5Schema.nullable().optional(),
    firmware_system: DeguUrlSchema.nullable().optional(),
    firmware_system_ver: Md5Schema.nullable().optional(),
  })
  .catchall(z.json());
export type DeguDesiredPatch = z.output<typeof DeguDesiredPatchSchema>;

/** `reported` as the shadow stores it: what the device runs. */
export const DeguReportedSchema = z
  .object({
    script_user_ver: ReportedMd5Schema.optional(),
    config_user_ver: ReportedMd5Schema.optional(),
    firmware_system_ver: ReportedMd5Schema.optional(),
    firmware_ver: FirmwareVersionSchema.optional(),
  })
  .catchall(z.json());
export type DeguReported = z.output<typeof DeguReportedSchema>;

/** `reported` in a request. */
export const DeguReportedPatchSchema = z
  .object({
    script_user_ver: ReportedMd5Schema.nullable().optional(),
    config_user_ver: ReportedMd5Schema.nullable().optional(),
    firmware_system_ver: ReportedMd5Schema.nullable().optional(),
    firmware_ver: FirmwareVersionSchema.nullable().optional(),
  })
  .catchall(z.json());
export type DeguReportedPatch = z.output<typeof DeguReportedPatchSchema>;

/**
 * What the sensor reports on every boot (docs/protocols/degu.md, "The boot report"): the three
 * MD5s it computed, and its firmware version (sent by the firmware, absent from the vendor docs'
 * example, hence optional).
 */
export const DeguBootReportSchema = z.strictObject({
  script_user_ver: ReportedMd5Schema,
  config_user_ver: ReportedMd5Schema,
  firmware_system_ver: ReportedMd5Schema,
  firmware_ver: FirmwareVersionSchema.optional(),
});
export type DeguBootReport = z.output<typeof DeguBootReportSchema>;

/** The boot report as the complete request document the sensor POSTs (`{"state":{"reported":…}}`). */
export const DeguBootRequestSchema = z.strictObject({
  state: z.strictObject({ reported: DeguBootReportSchema }),
  clientToken: ClientTokenSchema.optional(),
});
export type DeguBootRequest = z.output<typeof DeguBootRequestSchema>;

/** Every shadow message with Degu-typed state sections. */
export const deguSchemas = shadowMessageSchemas({
  desired: DeguDesiredSchema,
  reported: DeguReportedSchema,
  desiredPatch: DeguDesiredPatchSchema,
  reportedPatch: DeguReportedPatchSchema,
});

export const DeguRequestSchema = deguSchemas.request;
export const DeguGetAcceptedSchema = deguSchemas['get/accepted'];
export const DeguUpdateAcceptedSchema = deguSchemas['update/accepted'];
export const DeguDeltaSchema = deguSchemas['update/delta'];
export const DeguDocumentsSchema = deguSchemas['update/documents'];

export type DeguRequest = z.output<typeof DeguRequestSchema>;
export type DeguGetAccepted = z.output<typeof DeguGetAcceptedSchema>;
export type DeguUpdateAccepted = z.output<typeof DeguUpdateAcceptedSchema>;
export type DeguDelta = z.output<typeof DeguDeltaSchema>;
export type DeguDocuments = z.output<typeof DeguDocumentsSchema>;

/** The decoded type of each shadow message kind under the Degu profile. */
export type DeguMessages = { [K in keyof typeof deguSchemas]: z.output<(typeof deguSchemas)[K]> };
