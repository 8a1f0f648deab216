/**
 * Zod schemas of every AWS IoT Device Shadow document: the request state document, the
 * `/accepted`, `/delta` and `/documents` responses, `/delete/accepted` and the error document.
 * They are built from the schemas of the state sections, so the same builder gives the generic
 * (any JSON) schemas and the Degu profile's typed ones.
 *
 * @module
 */
import * as z from 'zod';
import { hasNullInArray, isJsonValue, jsonBytes, jsonDepth, utf8Bytes } from './json.js';
import { LIMITS } from './limits.js';

/** Any JSON object: the generic content of `desired`, `reported` and `delta`. */
export const JsonObjectSchema = z.record(z.string(), z.json());

/** Per-key metadata (`{"key":{"timestamp":T}}`, nested like the state). Kept as plain JSON. */
export const MetadataSectionSchema = JsonObjectSchema;

/** Unix epoch seconds, as every shadow `timestamp` is. */
export const TimestampSchema = z.number().int().nonnegative();

/** The shadow document version: 1 after the first update, +1 on every update, kept across deletes. */
export const VersionSchema = z.number().int().nonnegative();

/** A client token: at most 64 UTF-8 bytes (AWS answers 400 "Invalid clientToken" otherwise). */
export const ClientTokenSchema = z
  .string()
  .max(LIMITS.clientTokenBytes, { error: `at most ${LIMITS.clientTokenBytes} bytes` })
  .refine((token) => utf8Bytes(token) <= LIMITS.clientTokenBytes, {
    error: `at most ${LIMITS.clientTokenBytes} bytes`,
  });

/** The error document of every `/rejected` topic (and of REST errors). */
export const ShadowErrorSchema = z.looseObject({
  /** HTTP-style status: 400, 401, 403, 404, 409, 413, 415, 429, 500. */
  code: z.number().int().min(100).max(599),
  message: z.string(),
  /** Not always present. */
  timestamp: TimestampSchema.optional(),
  clientToken: z.string().optional(),
});
export type ShadowError = z.output<typeof ShadowErrorSchema>;

/** The schemas of the state sections a profile puts into the shadow documents. */
export interface StateSectionSchemas<
  D extends z.ZodType,
  R extends z.ZodType,
  DP extends z.ZodType,
  RP extends z.ZodType,
> {
  /** `desired` as stored (in `/get/accepted` and `/update/documents`); also used for `delta`. */
  desired: D;
  /** `reported` as stored. */
  reported: R;
  /** `desired` in a request or `/update/accepted`: keys may be `null` (= remove). */
  desiredPatch: DP;
  /** `reported` in a request or `/update/accepted`. */
  reportedPatch: RP;
}

/**
 * The AWS rules a request's state must keep, as issues. Checked as a refinement so a decoded
 * request is one AWS would accept (no 400/413 surprise after publishing).
 */
function requestStateIssues(state: {
  desired?: unknown;
  reported?: unknown;
}): Array<{ path: PropertyKey[]; message: string }> {
  const issues: Array<{ path: PropertyKey[]; message: string }> = [];
  const issue = (path: PropertyKey[], message: string) => issues.push({ path, message });
  // Sections that are not JSON already fail their own schema; measuring them could throw.
  if (!isJsonValue(state.desired ?? null) || !isJsonValue(state.reported ?? null)) return issues;
  for (const section of ['desired', 'reported'] as const) {
    const value = state[section];
    if (value === undefined || value === null) continue;
    if (jsonDepth(value, LIMITS.stateDepth) > LIMITS.stateDepth) {
      issue(['state', section], `at most ${LIMITS.stateDepth} levels of nesting (AWS shadow limit)`);
    }
    if (hasNullInArray(value)) issue(['state', section], 'no null inside arrays (AWS rejects them)');
  }
  if (jsonBytes({ desired: state.desired, reported: state.reported }) > LIMITS.stateBytes) {
    issue(['state'], `at most ${LIMITS.stateBytes} bytes of desired and reported state (AWS shadow limit)`);
  }
  return issues;
}

/**
 * Builds the schema of every shadow message from the schemas of its state sections.
 *
 * @example
 * ```ts
 * const lamp = shadowMessageSchemas({
 *   desired: LampSchema.partial(), reported: LampSchema.partial(),
 *   desiredPatch: LampPatchSchema, reportedPatch: LampPatchSchema,
 * })
 * const delta = lamp['update/delta'].parse(JSON.parse(payload))
 * ```
 */
export function shadowMessageSchemas<
  D extends z.ZodType,
  R extends z.ZodType,
  DP extends z.ZodType,
  RP extends z.ZodType,
>(sections: StateSectionSchemas<D, R, DP, RP>) {
  const snapshot = z.looseObject({
    state: z.looseObject({ desired: sections.desired.optional(), reported: sections.reported.optional() }),
    metadata: z
      .looseObject({ desired: MetadataSectionSchema.optional(), reported: MetadataSectionSchema.optional() })
      .optional(),
    version: VersionSchema,
  });
  return {
    /** Request state document, published to `/update` (or POSTed over REST). */
    request: z
      .looseObject({
        state: z.strictObject({
          desired: sections.desiredPatch.nullable().optional(),
          reported: sections.reportedPatch.nullable().optional(),
        }),
        clientToken: ClientTokenSchema.optional(),
        version: VersionSchema.optional(),
      })
      .superRefine((request, context) => {
        for (const issue of requestStateIssues(request.state)) context.addIssue({ code: 'custom', ...issue });
      }),
    /** `/get/accepted`: the whole shadow, with the service-computed `delta`. */
    'get/accepted': z.looseObject({
      state: z.looseObject({
        desired: sections.desired.optional(),
        reported: sections.reported.optional(),
        delta: sections.desired.optional(),
      }),
      metadata: z
        .looseObject({
          desired: MetadataSectionSchema.optional(),
          reported: MetadataSectionSchema.optional(),
        })
        .optional(),
      version: VersionSchema,
      timestamp: TimestampSchema,
      clientToken: z.string().optional(),
    }),
    /** `/update/accepted`: the fields of the request (nulls included) and their metadata. */
    'update/accepted': z.looseObject({
      state: z.looseObject({
        desired: sections.desiredPatch.nullable().optional(),
        reported: sections.reportedPatch.nullable().optional(),
      }),
      metadata: z
        .looseObject({
          desired: MetadataSectionSchema.nullable().optional(),
          reported: MetadataSectionSchema.nullable().optional(),
        })
        .optional(),
      version: VersionSchema,
      timestamp: TimestampSchema,
      clientToken: z.string().optional(),
    }),
    /** `/update/delta`: the keys of `desired` that differ from `reported`, without a wrapper. */
    'update/delta': z.looseObject({
      state: sections.desired,
      metadata: MetadataSectionSchema.optional(),
      version: VersionSchema,
      timestamp: TimestampSchema,
      clientToken: z.string().optional(),
    }),
    /** `/update/documents`: the shadow before and after every accepted update. */
    'update/documents': z.looseObject({
      previous: snapshot.nullable().optional(),
      current: snapshot,
      timestamp: TimestampSchema,
      clientToken: z.string().optional(),
    }),
    /** `/delete/accepted`. */
    'delete/accepted': z.looseObject({
      version: VersionSchema,
      timestamp: TimestampSchema,
      clientToken: z.string().optional(),
    }),
    /** Any `/rejected` response, and the body of a REST error. */
    rejected: ShadowErrorSchema,
  };
}

/** The kinds of shadow message, named after the topic they arrive on (`rejected` = any `/rejected`). */
export type ShadowMessageKind = keyof ReturnType<typeof shadowMessageSchemas>;

/** Generic shadow schemas: every state section is any JSON object. */
export const shadowSchemas = shadowMessageSchemas({
  desired: JsonObjectSchema,
  reported: JsonObjectSchema,
  desiredPatch: JsonObjectSchema,
  reportedPatch: JsonObjectSchema,
});

export const ShadowRequestSchema = shadowSchemas.request;
export const ShadowGetAcceptedSchema = shadowSchemas['get/accepted'];
export const ShadowUpdateAcceptedSchema = shadowSchemas['update/accepted'];
export const ShadowDeltaSchema = shadowSchemas['update/delta'];
export const ShadowDocumentsSchema = shadowSchemas['update/documents'];
export const ShadowDeleteAcceptedSchema = shadowSchemas['delete/accepted'];

export type ShadowRequest = z.output<typeof ShadowRequestSchema>;
export type ShadowGetAccepted = z.output<typeof ShadowGetAcceptedSchema>;
export type ShadowUpdateAccepted = z.output<typeof ShadowUpdateAcceptedSchema>;
export type ShadowDelta = z.output<typeof ShadowDeltaSchema>;
export type ShadowDocuments = z.output<typeof ShadowDocumentsSchema>;
export type ShadowDeleteAccepted = z.output<typeof ShadowDeleteAcceptedSchema>;

/** The decoded type of each generic shadow message kind. */
export type ShadowMessages = { [K in ShadowMessageKind]: z.output<(typeof shadowSchemas)[K]> };
