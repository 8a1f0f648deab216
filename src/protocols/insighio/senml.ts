/**
 * SenML JSON (RFC 8428) as far as insigh.io uses it: a pack is an array of records; base fields
 * (`bn`, `bv`, ...) apply to their record and every later one until replaced. The OTA codec reads
 * records by their resolved name, so records may come in any order and may use base fields.
 *
 * @module
 */
import * as z from 'zod';
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { LIMITS } from './limits.js';

/**
 * One SenML record. Every RFC 8428 field is typed; other keys are kept (RFC 8428 section 4.4 lets a
 * receiver ignore fields it does not know) so the decoder can recognise the insigh.io docs typo
 * `{"m":"i","vs":"..."}` for the message record.
 */
export const SenmlRecordSchema = z.looseObject({
  /** Base name: prefixed to the name of this and later records. */
  bn: z.string().optional(),
  /** Base time, added to `t`. */
  bt: z.number().optional(),
  /** Base unit. */
  bu: z.string().optional(),
  /** Base value: added to `v` of this and later records. */
  bv: z.number().optional(),
  /** Base sum, added to `s`. */
  bs: z.number().optional(),
  /** SenML version of the pack. */
  bver: z.number().int().optional(),
  /** Name. In insigh.io OTA messages: `e`, `i`, `t`, `s` or `m`. */
  n: z.string().optional(),
  /** Unit. */
  u: z.string().optional(),
  /** Numeric value (event id `e`, size `s`). */
  v: z.number().optional(),
  /** String value (file id `i`, file type `t`, message `m`). */
  vs: z.string().optional(),
  /** Boolean value. */
  vb: z.boolean().optional(),
  /** Data value (base64url). */
  vd: z.string().optional(),
  /** Sum (a SenML field; not the insigh.io size record, which is a record *named* `s`). */
  s: z.number().optional(),
  /** Time (a SenML field; not the insigh.io file type record, which is *named* `t`). */
  t: z.number().optional(),
  /** Update time. */
  ut: z.number().optional(),
});
export type SenmlRecord = z.output<typeof SenmlRecordSchema>;

/** A SenML pack: an array of at most {@link LIMITS.maxRecords} records. */
export const SenmlPackSchema = z
  .array(SenmlRecordSchema)
  .max(LIMITS.maxRecords, { error: `at most ${LIMITS.maxRecords} SenML records` });
export type SenmlPack = z.output<typeof SenmlPackSchema>;

/** A record with its base fields applied. */
export interface ResolvedRecord {
  /** Index of the record in the pack, for error paths (`[2].vs`). */
  index: number;
  /** `bn + n` (RFC 8428 section 4.5.1); `m` for the docs-typo record. */
  name: string;
  /** `bv + v` when the record has `v`. */
  v: number | undefined;
  vs: string | undefined;
  vb: boolean | undefined;
  vd: string | undefined;
  /** Whether the name came from the docs typo `{"m":...}` rather than `n`. */
  typo: boolean;
}

/**
 * Applies base fields and resolves names. Refuses (RFC 8428 section 4.4) a record with a field whose name
 * ends in `_`, which a receiver must understand, and a record that ends up with no name.
 */
export function resolvePack(pack: SenmlPack, what: string): ResolvedRecord[] {
  // Public: a caller may hand over anything, so the pack is checked here too (a typed error,
  // never a TypeError from `forEach` or from adding an object to a name).
  if (typeof what !== 'string') what = 'SenML pack';
  pack = parseWith(SenmlPackSchema, pack, what);
  const issues: ValidationIssue[] = [];
  const resolved: ResolvedRecord[] = [];
  let baseName = '';
  let baseValue = 0;
  pack.forEach((record, index) => {
    for (const key of Object.keys(record)) {
      if (key.endsWith('_')) {
        issues.push({
          path: `[${index}].${key}`,
          expected: 'no must-understand SenML field (name ending "_")',
        });
      }
    }
    if (record.bn !== undefined) baseName = record.bn;
    if (record.bv !== undefined) baseValue = record.bv;
    // The insigh.io docs print the message record as {"m":"i","vs":"..."}; the firmware sends
    // {"n":"m","vs":"..."}. Accept both: a record without `n` that carries a string `m` is `m`.
    const typo = record.n === undefined && typeof record.m === 'string';
    const name = typo ? 'm' : baseName + (record.n ?? '');
    if (name === '') {
      issues.push({ path: `[${index}].n`, expected: 'a record name (n or bn)' });
      return;
    }
    resolved.push({
      index,
      name,
      v: record.v === undefined ? undefined : baseValue + record.v,
      vs: record.vs,
      vb: record.vb,
      vd: record.vd,
      typo,
    });
  });
  if (issues.length > 0) throw new ManifestError(what, issues);
  return resolved;
}
