/**
 * Decoding and encoding the SenML payloads of the insigh.io OTA topic: the console's retained
 * order (`e` = 0), a device's status (`e` = 1, 2, 3) and the empty payload that clears the order.
 *
 * @module
 */
import type * as z from 'zod';
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { parseWith, safeParseWith } from '../../core/validate.js';
import { decodeJson, type WireInput } from '../../core/wire.js';
import { LIMITS } from './limits.js';
import {
  EVENTS,
  type OtaEvent,
  type OtaMessage,
  type OtaOrder,
  OtaOrderSchema,
  type OtaStatus,
  OtaStatusSchema,
} from './schemas.js';
import { type ResolvedRecord, resolvePack, SenmlPackSchema } from './senml.js';

const WHAT = 'insigh.io OTA message';

/** Options of {@link decodeMessage}. */
export interface DecodeMessageOptions {
  /**
   * Accept what the reference firmware accepts rather than what the docs specify: a record's
   * value is taken from whichever of `v`, `vs`, `vb`, `vd` it has (so `{"n":"e","vs":"0"}` is
   * pending and `{"n":"s","vs":"3987"}` a size), a fractional size is truncated (`int(s)`), a
   * falsy `m` is dropped, and a repeated name is allowed, the last one winning. Hardened mode
   * (the default) requires numbers in `v` and strings in `vs`, and refuses a repeated name as
   * ambiguous.
   *
   * In both modes ids must be safe (see `ids.ts`; the reference would write `../x` as a file
   * name), the size must be at least 1, and `0.0` is read as `0`: JSON has one number type, so
   * the reference's `str(e) == "0"`, which ignores `0.0`, cannot be reproduced (vector I10).
   * @default false
   */
  strictCompat?: boolean;
}

const RECORD_NAMES = new Set(['e', 'i', 't', 's', 'm']);

const DESCRIPTION: Record<string, string> = {
  e: 'the event id',
  i: 'the file id',
  t: 'the file type',
  s: 'the file size',
  m: 'the message',
};

/** Whether `input` is a zero-length payload, which is how MQTT clears a retained message. */
export function isClearPayload(input: WireInput): boolean {
  if (typeof input === 'string') return input.length === 0;
  if (input instanceof Uint8Array) return input.length === 0;
  if (input instanceof ArrayBuffer) return input.byteLength === 0;
  return false;
}

/**
 * Decodes a payload received on the OTA topic (string, bytes, or already parsed JSON).
 * Records are read by name in any order; SenML base fields (`bn`, `bv`) are applied.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming the record path and what was expected, for a
 * payload over {@link LIMITS.maxMessageBytes} bytes or {@link LIMITS.maxRecords} records, invalid
 * JSON or SenML, and an order missing `i`, `t` or `s` (which a device must ignore, I9).
 *
 * @example
 * ```ts
 * const message = insighIo.decodeMessage(payload)
 * if (message.kind === 'order') startUpdate(message.order)
 * ```
 */
export function decodeMessage(input: WireInput, options: DecodeMessageOptions = {}): OtaMessage {
  if (isClearPayload(input)) return { kind: 'cleared' };
  const value = decodeJson(input, { what: WHAT, maxBytes: LIMITS.maxMessageBytes });
  // A caller may hand over an already parsed array: refuse a huge one before zod walks it.
  if (Array.isArray(value) && value.length > LIMITS.maxRecords) {
    throw new ManifestError(WHAT, [{ path: '', expected: `at most ${LIMITS.maxRecords} SenML records` }]);
  }
  const records = resolvePack(parseWith(SenmlPackSchema, value, WHAT), WHAT);
  return interpret(records, options.strictCompat === true);
}

/** Like {@link decodeMessage}, returning a result instead of throwing. */
export function safeDecodeMessage(
  input: WireInput,
  options: DecodeMessageOptions = {},
): { success: true; data: OtaMessage } | { success: false; error: ManifestError } {
  try {
    return { success: true, data: decodeMessage(input, options) };
  } catch (error) {
    if (error instanceof ManifestError) return { success: false, error };
    throw error;
  }
}

/**
 * Encodes an order exactly as the console writes it (publish it retained, QoS 1):
 * `[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":3987}]`.
 * @throws ManifestError when `order` does not match `OtaOrderSchema`.
 */
export function encodeOrder(order: OtaOrder): string {
  const valid = parseWith(OtaOrderSchema, order, 'insigh.io OTA order');
  return JSON.stringify([
    { n: 'e', v: EVENTS.pending },
    { n: 'i', vs: valid.fileId },
    { n: 't', vs: valid.fileType },
    { n: 's', v: valid.size },
  ]);
}

/**
 * Encodes a device status as the firmware does (publish it non-retained, QoS 1), with the
 * message as `{"n":"m","vs":...}`:
 * `[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"not enough space"}]`.
 * @throws ManifestError when `status` does not match `OtaStatusSchema`.
 */
export function encodeStatus(status: OtaStatus): string {
  const valid = parseWith(OtaStatusSchema, status, 'insigh.io OTA status');
  const records: object[] = [
    { n: 'e', v: valid.event },
    { n: 'i', vs: valid.fileId },
  ];
  if (valid.message !== undefined) records.push({ n: 'm', vs: valid.message });
  return JSON.stringify(records);
}

/** The value the reference firmware sees: kpn SenML takes the first value field present. */
function anyValue(record: ResolvedRecord): number | string | boolean | undefined {
  return record.v ?? record.vs ?? record.vb ?? record.vd;
}

/** Python's truthiness, as the reference applies it to `i`, `t` and `s`. */
function truthy(value: unknown): boolean {
  return value !== undefined && value !== 0 && value !== '' && value !== false && !Number.isNaN(value);
}

function interpret(records: ResolvedRecord[], strict: boolean): OtaMessage {
  const byName = new Map<string, ResolvedRecord>();
  const duplicates: ValidationIssue[] = [];
  for (const record of records) {
    if (!RECORD_NAMES.has(record.name)) continue; // unknown names: ignored (forward compatible)
    if (!strict && byName.has(record.name)) {
      duplicates.push({ path: `[${record.index}].n`, expected: `one record named "${record.name}" only` });
    }
    byName.set(record.name, record); // strictCompat: the last one wins, as in the reference
  }
  if (duplicates.length > 0) throw new ManifestError(WHAT, duplicates);

  const eventRecord = byName.get('e');
  if (eventRecord === undefined) throw new ManifestError(WHAT, [missing('e')]);
  const event = readEvent(eventRecord, strict);
  if (event === undefined) {
    const expected = strict ? 'an event id 0, 1, 2 or 3' : 'an event id 0, 1, 2 or 3 in v';
    throw new ManifestError(WHAT, [{ path: `[${eventRecord.index}].v`, expected }]);
  }

  if (event === EVENTS.pending) {
    requirePresent(byName, ['i', 't', 's']);
    const order = {
      fileId: readField(byName, 'i', 'string', strict),
      fileType: readField(byName, 't', 'string', strict),
      size: readField(byName, 's', 'number', strict),
    };
    return {
      kind: 'order',
      order: check(OtaOrderSchema, order, byName, { fileId: 'i', fileType: 't', size: 's' }),
    };
  }

  requirePresent(byName, ['i']);
  const status: Record<string, unknown> = { event, fileId: readField(byName, 'i', 'string', strict) };
  const message = byName.has('m') ? readField(byName, 'm', 'string', strict) : undefined;
  if (message !== undefined) status.message = message;
  return { kind: 'status', status: check(OtaStatusSchema, status, byName, { fileId: 'i', message: 'm' }) };
}

function missing(name: string): ValidationIssue {
  return { path: '', expected: `a record named "${name}" (${DESCRIPTION[name]})` };
}

function requirePresent(byName: Map<string, ResolvedRecord>, names: readonly string[]): void {
  const absent = names.filter((name) => !byName.has(name));
  if (absent.length > 0) throw new ManifestError(WHAT, absent.map(missing));
}

function readEvent(record: ResolvedRecord, strict: boolean): OtaEvent | undefined {
  if (!strict) return isEvent(record.v) ? record.v : undefined;
  // The reference compares `str(e) == "0"`: the number 0 and the string "0" both pass.
  const value = anyValue(record);
  const number = typeof value === 'string' && /^[0-3]$/.test(value) ? Number(value) : value;
  return isEvent(number) ? number : undefined;
}

function isEvent(value: unknown): value is OtaEvent {
  return value === 0 || value === 1 || value === 2 || value === 3;
}

/**
 * The value of record `name`. Hardened: a number from `v` or a string from `vs`, as specified.
 * strictCompat: whichever value field is present, a falsy one counting as absent (the reference
 * ignores an order whose `i`, `t` or `s` is falsy), a digit string accepted as a number and a
 * fractional size truncated (`int(fileSize)`).
 */
function readField(
  byName: Map<string, ResolvedRecord>,
  name: string,
  kind: 'number' | 'string',
  strict: boolean,
): unknown {
  const record = byName.get(name)!;
  // Hardened: a present record with the wrong value field is an error, not an absent value.
  if (!strict) return (kind === 'number' ? record.v : record.vs) ?? null;
  const value = anyValue(record);
  if (!truthy(value)) return undefined;
  if (kind === 'number' && typeof value === 'string' && /^\d{1,16}$/.test(value)) return Number(value);
  if (kind === 'number' && typeof value === 'number') return Math.trunc(value);
  return value;
}

/** Validates the typed form; each issue is reported at the record it came from (`[1].vs`). */
function check<S extends z.ZodType>(
  schema: S,
  value: object,
  byName: Map<string, ResolvedRecord>,
  recordOf: Record<string, string>,
): z.output<S> {
  const result = safeParseWith(schema, value, WHAT);
  if (result.success) return result.data;
  throw new ManifestError(
    WHAT,
    result.error.issues.map((issue) => {
      const name = recordOf[issue.path];
      const record = name === undefined ? undefined : byName.get(name);
      if (record === undefined) return issue;
      const slot = name === 's' ? 'v' : 'vs';
      return { path: `[${record.index}].${slot}`, expected: `${issue.expected} (record "${name}")` };
    }),
  );
}
