/**
 * Zod schemas of everything Exosite OTAU puts on the wire (docs/protocols/exosite.md): the `config_otau`
 * manifest, the `otau_in` status and the `$resource.batch` MQTT payload. Resource values travel
 * as JSON *strings*; these schemas describe the JSON inside (see `resource.ts` for the string).
 *
 * @module
 */
import * as z from 'zod';
import { ManifestError } from '../../core/errors.js';
import { parseWith, toValidationIssues } from '../../core/validate.js';
import { AliasSchema } from './alias.js';
import { LIMITS } from './limits.js';
import { isPayloadItem, PAYLOAD_ITEM_EXPECTED } from './payload.js';

/** The manifest types. ExoSense's UI only produces `URL_LIST`. */
export const OTAU_TYPES = ['URL_LIST', 'FILE', 'JSON'] as const;
export type OtauType = (typeof OTAU_TYPES)[number];

/**
 * Every `otau_in` status, in the order of the recommended happy path with each phase's failure
 * after it. A device may implement a subset.
 */
export const OTAU_STATUSES = [
  'INIT',
  'TEST',
  'TEST_STEP',
  'TEST_SUCCESS',
  'TEST_ERROR',
  'DOWNLOAD',
  'DOWNLOAD_STEP',
  'DOWNLOAD_SUCCESS',
  'DOWNLOAD_ERROR',
  'INSTALL',
  'INSTALL_STEP',
  'INSTALL_SUCCESS',
  'INSTALL_ERROR',
  'INSTALL_ABORTED',
  'INSTALLED_VERSION',
] as const;
export type OtauStatusCode = (typeof OTAU_STATUSES)[number];

const VERSION_EXPECTED = `a non-empty version string (at most ${LIMITS.versionLength} characters)`;

/** Hardened payload item: an http(s) URL with a host, or a connector content id. */
export const PayloadItemSchema = z
  .string({ error: PAYLOAD_ITEM_EXPECTED })
  // `abort`: one issue per item, not one per rule it breaks.
  .min(1, { error: PAYLOAD_ITEM_EXPECTED, abort: true })
  .max(LIMITS.urlLength, { error: PAYLOAD_ITEM_EXPECTED, abort: true })
  .refine(isPayloadItem, { error: PAYLOAD_ITEM_EXPECTED });

// What the reference flow accepts (`strictCompat`): any non-empty string; the scheme is checked
// later, when the item is resolved for download.
const CompatPayloadItemSchema = z
  .string({ error: 'a non-empty string' })
  .min(1, { error: 'a non-empty string' })
  .max(LIMITS.urlLength);

/** The fields every manifest type shares. */
const common = {
  /** Identifies this OTAU; opaque, never ordered. */
  version: z
    .string({ error: VERSION_EXPECTED })
    .min(1, { error: VERSION_EXPECTED })
    .max(LIMITS.versionLength, { error: VERSION_EXPECTED }),
  /** Human-readable name, e.g. `Security Update`. */
  name: z.string({ error: 'a name string' }).max(LIMITS.nameLength),
  description: z.string({ error: 'a description string' }).max(LIMITS.descriptionLength).optional(),
};

/** What a manifest without a usable `type` is told about its `payload`. */
export const PAYLOAD_EXPECTED = 'a payload (URLs or content ids, or a JSON object for type JSON)';

/**
 * The fields of a manifest whatever its type, for the case the discriminated union cannot
 * help with: without a known `type` it reports only `type`, and a manifest missing `name` and
 * `payload` as well must name all three in one error.
 */
const ManifestEnvelopeSchema = z.object({
  ...common,
  payload: z.custom<unknown>((value) => value !== undefined, { error: PAYLOAD_EXPECTED }),
});

function manifestSchema(item: z.ZodType<string, string>) {
  return z.discriminatedUnion(
    'type',
    [
      z.object({
        ...common,
        type: z.literal('URL_LIST'),
        /** URLs or content ids, downloaded in order. */
        payload: z
          .array(item, { error: 'an array of URLs or content ids' })
          .min(1, { error: 'at least one URL or content id' })
          .max(LIMITS.payloadItems),
      }),
      z.object({
        ...common,
        type: z.literal('FILE'),
        /** One URL or content id. */
        payload: item,
      }),
      z.object({
        ...common,
        type: z.literal('JSON'),
        /** Handed to the install handler as is; nothing is downloaded. */
        payload: z.record(z.string(), z.json(), { error: 'a JSON object' }),
      }),
    ],
    {
      error: (issue) =>
        issue.code === 'invalid_union'
          ? `one of ${OTAU_TYPES.map((type) => `"${type}"`).join(', ')}`
          : undefined,
    },
  );
}

/**
 * The `config_otau` manifest, hardened: payload items must be http(s) URLs with a host or
 * connector content ids. Unknown keys are dropped.
 *
 * @example
 * ```ts
 * OtauManifestSchema.parse({ version: '1.0.2', name: 'Firmware update', type: 'URL_LIST', payload: ['fw.txt'] })
 * ```
 */
export const OtauManifestSchema = manifestSchema(PayloadItemSchema);
/** The manifest as `strictCompat` decoding accepts it: any non-empty payload strings. */
export const CompatOtauManifestSchema = manifestSchema(CompatPayloadItemSchema);

const MANIFEST_FIELDS = ['version', 'name', 'description', 'type', 'payload'];

/**
 * Validates a manifest with `schema`, naming every failing field in one `ManifestError`: when
 * `type` is missing or unknown, the shared fields (`version`, `name`, `description`, `payload`)
 * are checked too, instead of stopping at `type`.
 *
 * @throws ManifestError (`MANIFEST_INVALID`).
 */
export function parseOtauManifest(
  schema: typeof OtauManifestSchema | typeof CompatOtauManifestSchema,
  value: unknown,
  what: string,
): OtauManifest {
  try {
    return parseWith(schema, value, what);
  } catch (error) {
    const typed =
      typeof value === 'object' &&
      value !== null &&
      (OTAU_TYPES as readonly unknown[]).includes((value as { type?: unknown }).type);
    if (!(error instanceof ManifestError) || typed || typeof value !== 'object' || value === null)
      throw error;
    const envelope = ManifestEnvelopeSchema.safeParse(value);
    const issues = envelope.success ? [] : toValidationIssues(envelope.error);
    const all = [
      ...error.issues,
      ...issues.filter((issue) => !error.issues.some((known) => known.path === issue.path)),
    ];
    const rank = (path: string) => {
      const index = MANIFEST_FIELDS.indexOf(path.split(/[.[]/)[0] ?? '');
      return index === -1 ? MANIFEST_FIELDS.length : index;
    };
    all.sort((a, b) => rank(a.path) - rank(b.path));
    throw new ManifestError(what, all);
  }
}

export type OtauManifest = z.output<typeof OtauManifestSchema>;
export type OtauManifestInput = z.input<typeof OtauManifestSchema>;

/** The `otau_in` status. `version` is the manifest's, or the installed one for `INSTALLED_VERSION`. */
export const OtauStatusSchema = z.object({
  /** May be empty when a device does not know it; `statusToCanonical` reads `""` as no version. */
  version: z.string({ error: 'a version string' }).max(LIMITS.versionLength),
  status: z.enum(OTAU_STATUSES, {
    error: `one of ${OTAU_STATUSES.map((status) => `"${status}"`).join(', ')}`,
  }),
  message: z.string({ error: 'a message string' }).max(LIMITS.messageLength).optional(),
});
export type OtauStatus = z.output<typeof OtauStatusSchema>;

/** One entry of a `$resource.batch` payload (MQTT): values written at one time. */
export const BatchEntrySchema = z.object({
  /** Microseconds since the epoch (murano-client's unit). */
  timestamp: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Alias → resource value (for `otau_in`, the status as a JSON string). */
  values: z.record(AliasSchema, z.string().max(LIMITS.resourceBytes)),
});
export type BatchEntry = z.output<typeof BatchEntrySchema>;

/** The `$resource.batch` payload: an array of timestamped writes. */
export const BatchSchema = z.array(BatchEntrySchema).min(1).max(LIMITS.batchEntries);
export type Batch = z.output<typeof BatchSchema>;

/**
 * The schemas with a JSON form, for `dist/schemas/exosite.<name>.json`. Refinements (the payload
 * item rule) do not show in JSON Schema; the shapes, enums and limits do.
 */
export const jsonSchemas: Record<string, z.ZodType> = {
  manifest: OtauManifestSchema,
  status: OtauStatusSchema,
  batch: BatchSchema,
};
