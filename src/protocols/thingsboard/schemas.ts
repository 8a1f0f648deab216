/**
 * zod schemas of every ThingsBoard OTA message (docs/protocols/thingsBoard.md): the shared attributes the
 * server pushes or returns, the attribute request, the device's telemetry, and otakit's
 * normalised view of one package.
 *
 * Attribute and telemetry objects are loose: a device's shared attributes and telemetry carry
 * keys of other features too, which pass through untouched.
 *
 * @module
 */
import * as z from 'zod';
import {
  CHECKSUM_ALGORITHM_NAMES,
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  FW_STATES,
  PACKAGE_TYPES,
} from './keys.js';
import { LIMITS } from './limits.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const NO_CONTROL = /^[^\u0000-\u001f\u007f]+$/;

/** A title, version or tag: 1–255 characters, no control characters. */
export const TextSchema = z
  .string()
  .min(1, { abort: true })
  .max(LIMITS.textLength)
  .regex(NO_CONTROL, { error: 'text without control characters' });

export const ChecksumAlgorithmSchema = z.enum(CHECKSUM_ALGORITHM_NAMES);

/** Hex of one of the lengths ThingsBoard's algorithms produce; upper case is accepted and lowered. */
export const ChecksumSchema = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{32}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$/, {
    error: 'a hex checksum of 8, 32, 64, 96 or 128 characters',
  })
  .transform((value) => value.toLowerCase());

/** Package size in bytes (a Java `long` on the server; a safe integer here). */
export const SizeSchema = z.number().int().nonnegative();

/** An external package URL (`fw_url`): absolute, http(s) or coap(s). */
export const UrlSchema = z
  .url({ protocol: /^(?:https?|coaps?)$/, error: 'an absolute http(s) or coap(s) URL' })
  .max(LIMITS.urlLength);

export const FwStateSchema = z.enum(FW_STATES);

export const PackageTypeSchema = z.enum(PACKAGE_TYPES);

/**
 * Shared attributes as the server pushes them on `v1/devices/me/attributes` (flat `{key: value}`,
 * plus `deleted` when attributes were removed, e.g. the package was unassigned) and as the
 * `shared` part of an attribute response.
 */
export const SharedAttributesSchema = z.looseObject({
  fw_title: TextSchema.optional(),
  fw_version: TextSchema.optional(),
  fw_size: SizeSchema.optional(),
  fw_checksum: ChecksumSchema.optional(),
  fw_checksum_algorithm: ChecksumAlgorithmSchema.optional(),
  fw_url: UrlSchema.optional(),
  fw_tag: TextSchema.optional(),
  sw_title: TextSchema.optional(),
  sw_version: TextSchema.optional(),
  sw_size: SizeSchema.optional(),
  sw_checksum: ChecksumSchema.optional(),
  sw_checksum_algorithm: ChecksumAlgorithmSchema.optional(),
  sw_url: UrlSchema.optional(),
  sw_tag: TextSchema.optional(),
  /** Keys the server deleted (only in pushes). */
  deleted: z.array(z.string()).optional(),
});
export type SharedAttributes = z.output<typeof SharedAttributesSchema>;
export type SharedAttributesInput = z.input<typeof SharedAttributesSchema>;

/** Published to `v1/devices/me/attributes/request/<id>`: comma-separated key lists. */
export const AttributeRequestSchema = z.object({
  clientKeys: z.string().optional(),
  sharedKeys: z.string().optional(),
});
export type AttributeRequest = z.output<typeof AttributeRequestSchema>;

/** Received on `v1/devices/me/attributes/response/<id>`. */
export const AttributeResponseSchema = z.looseObject({
  client: z.record(z.string(), z.json()).optional(),
  shared: SharedAttributesSchema.optional(),
});
export type AttributeResponse = z.output<typeof AttributeResponseSchema>;

/**
 * One flat telemetry object a device publishes on `v1/devices/me/telemetry`, e.g.
 * `{"current_fw_title":"X","current_fw_version":"1.2","fw_state":"UPDATED"}`.
 */
export const TelemetrySchema = z.looseObject({
  current_fw_title: TextSchema.optional(),
  current_fw_version: TextSchema.optional(),
  fw_state: FwStateSchema.optional(),
  fw_error: z.string().optional(),
  current_sw_title: TextSchema.optional(),
  current_sw_version: TextSchema.optional(),
  sw_state: FwStateSchema.optional(),
  sw_error: z.string().optional(),
});
export type Telemetry = z.output<typeof TelemetrySchema>;
export type TelemetryInput = z.input<typeof TelemetrySchema>;

/** ThingsBoard's timestamped telemetry form: `{"ts": 1451649600512, "values": {…}}`. */
export const TimestampedTelemetrySchema = z.object({
  ts: z.number().int().nonnegative(),
  values: TelemetrySchema,
});

function checkPackage(
  value: {
    checksum?: string | undefined;
    checksumAlgorithm?: ChecksumAlgorithm | undefined;
    size?: number | undefined;
    url?: string | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if (value.checksum !== undefined) {
    if (value.checksumAlgorithm === undefined) {
      ctx.addIssue({ code: 'custom', path: ['checksumAlgorithm'], message: 'the algorithm of the checksum' });
    } else if (value.checksum.length !== CHECKSUM_ALGORITHMS[value.checksumAlgorithm]) {
      ctx.addIssue({
        code: 'custom',
        path: ['checksum'],
        message: `${CHECKSUM_ALGORITHMS[value.checksumAlgorithm]} hex characters (${value.checksumAlgorithm})`,
      });
    }
  }
  // A package stored in ThingsBoard is downloaded through ThingsBoard: the device needs the size
  // to know when the last chunk arrived, and the checksum to verify it. Only URL packages may omit them.
  if (value.url === undefined) {
    if (value.size === undefined) {
      ctx.addIssue({ code: 'custom', path: ['size'], message: 'the size (required without a URL)' });
    }
    if (value.checksum === undefined) {
      ctx.addIssue({ code: 'custom', path: ['checksum'], message: 'a checksum (required without a URL)' });
    }
  }
}

/**
 * One package, normalised from the `fw_*` or `sw_*` attributes: what a device needs to fetch and
 * verify it. Validated as a whole: a checksum needs its algorithm and the matching length, and a
 * package without `url` needs `size` and `checksum`.
 */
export const PackageSchema = z
  .object({
    type: PackageTypeSchema,
    title: TextSchema,
    version: TextSchema,
    size: SizeSchema.optional(),
    checksum: ChecksumSchema.optional(),
    checksumAlgorithm: ChecksumAlgorithmSchema.optional(),
    url: UrlSchema.optional(),
    tag: TextSchema.optional(),
  })
  .superRefine(checkPackage);
export type Package = z.output<typeof PackageSchema>;
export type PackageInput = z.input<typeof PackageSchema>;

/** Algorithms otakit cannot verify: their checksum travels in the manifest extension. */
export const UnverifiedAlgorithmSchema = z.enum(['SHA384', 'SHA512', 'CRC32', 'MURMUR3_32', 'MURMUR3_128']);

/**
 * What `toCanonical` keeps in `manifest.extensions.thingsboard` so `fromCanonical` can rebuild
 * the attributes: the type, the title, the tag, and a checksum of an algorithm otakit cannot verify.
 */
export const ExtensionSchema = z.object({
  type: PackageTypeSchema,
  title: TextSchema,
  tag: TextSchema.optional(),
  checksumAlgorithm: UnverifiedAlgorithmSchema.optional(),
  checksum: ChecksumSchema.optional(),
});
export type Extension = z.output<typeof ExtensionSchema>;

/** The key under `manifest.extensions` that this system uses. */
export const EXTENSION_KEY = 'thingsboard';

/** JSON Schemas emitted at build time (`dist/schemas/thingsboard.<name>.json`). */
export const jsonSchemas: Record<string, z.ZodType> = {
  sharedAttributes: SharedAttributesSchema,
  attributeRequest: AttributeRequestSchema,
  attributeResponse: AttributeResponseSchema,
  telemetry: TelemetrySchema,
  timestampedTelemetry: TimestampedTelemetrySchema,
  package: PackageSchema,
  extension: ExtensionSchema,
};
