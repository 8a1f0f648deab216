/**
 * The typed forms of the two insigh.io OTA messages, and the JSON Schemas emitted at build time.
 * On the wire both are SenML packs (see `senml.ts`); these are what the codec decodes them into
 * and encodes them from.
 *
 * @module
 */
import * as z from 'zod';
import { FileIdSchema, FileTypeSchema } from './ids.js';
import { LIMITS } from './limits.js';
import { SenmlPackSchema } from './senml.js';

/**
 * The event ids of record `e` (firmware comment): 0 pending (the order), 1 applied, 2 failed,
 * 3 canceled.
 */
export const EVENTS = { pending: 0, applied: 1, failed: 2, canceled: 3 } as const;
/** An `e` value. */
export type OtaEvent = (typeof EVENTS)[keyof typeof EVENTS];

/**
 * An OTA order (`e` = 0), retained by the console on `channels/<cc>/messages/<did>/ota`:
 * `[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":3987}]`.
 */
export const OtaOrderSchema = z.object({
  /** Record `i`: the package's file id (`fuid` in the download URL). */
  fileId: FileIdSchema,
  /** Record `t`: the file extension with its dot, `.tar` or `.tar.gz`. */
  fileType: FileTypeSchema,
  /** Record `s`: the package size in bytes (the reference ignores an order whose size is 0). */
  size: z
    .number()
    .int({ error: 'a whole number of bytes' })
    .min(1, { error: 'a size of at least 1 byte' })
    .max(Number.MAX_SAFE_INTEGER, { error: 'a safe integer size' }),
});
export type OtaOrder = z.output<typeof OtaOrderSchema>;

/**
 * A status a device publishes (non-retained) on the OTA topic: `e` = 1 applied, 2 failed,
 * 3 canceled; `i` the file id; `m` an optional human message (the firmware sends
 * `not enough space`, `can not download`, `can not apply`).
 */
export const OtaStatusSchema = z.object({
  /** Record `e`. */
  event: z.union([z.literal(EVENTS.applied), z.literal(EVENTS.failed), z.literal(EVENTS.canceled)]),
  /** Record `i`. */
  fileId: FileIdSchema,
  /** Record `m`, encoded as `{"n":"m","vs":...}` (never as the docs typo `{"m":...}`). */
  message: z
    .string()
    .max(LIMITS.maxStatusMessageLength, {
      error: `a message of at most ${LIMITS.maxStatusMessageLength} characters`,
    })
    .optional(),
});
export type OtaStatus = z.output<typeof OtaStatusSchema>;

/** What one payload on the OTA topic is. */
export type OtaMessage =
  /** `e` = 0 with `i`, `t` and `s`: an update to apply. */
  | { kind: 'order'; order: OtaOrder }
  /** `e` = 1, 2 or 3: a device's report (a device ignores these, I7). */
  | { kind: 'status'; status: OtaStatus }
  /** A zero-length payload: the retained order was cleared (a device ignores it, I8). */
  | { kind: 'cleared' };

/**
 * The schemas with a JSON representation, emitted as `dist/schemas/insighio.<name>.json`:
 * `senmlPack` validates any payload on the OTA topic; `order` and `status` are otakit's typed
 * forms of the two messages.
 */
export const jsonSchemas: Record<string, z.ZodType> = {
  senmlPack: SenmlPackSchema,
  order: OtaOrderSchema,
  status: OtaStatusSchema,
};
