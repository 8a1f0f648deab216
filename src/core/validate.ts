/**
 * Turns zod's verdict into otakit's: a typed value, or a {@link ManifestError} that names each
 * failing path and what was expected there. Never leaks a raw `ZodError`, and never echoes the
 * rejected value (it may hold a URL with credentials).
 *
 * @module
 */
import type * as z from 'zod';
import { ManifestError, type ValidationIssue } from './errors.js';
import { isBytes } from './record.js';

/** Formats a zod path the way a TypeScript user reads it: `artifacts[0].md5`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

const ZOD_DEFAULT_MESSAGE = /^(Invalid|Too (small|big)|Unrecognized)/;

function describeIssue(issue: z.core.$ZodIssue): string {
  // Schemas in otakit phrase their custom messages as the expectation itself.
  if (!ZOD_DEFAULT_MESSAGE.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected;
    case 'too_small':
      return `${issue.origin} ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}${sizeUnit(issue.origin)}`;
    case 'too_big':
      return `${issue.origin} ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}${sizeUnit(issue.origin)}`;
    case 'invalid_format':
      return issue.format === 'regex' && 'pattern' in issue
        ? `a string matching ${String(issue.pattern)}`
        : issue.format;
    case 'invalid_value':
      return `one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'unrecognized_keys':
      return `no unknown keys (found ${listKeys(issue.keys)})`;
    case 'invalid_union':
      return 'one of the allowed shapes';
    default:
      return issue.message;
  }
}

/** Keys shown in an unknown-keys issue, and characters shown of each key. */
const SHOWN_KEYS = 5;
const SHOWN_KEY_LENGTH = 64;

/**
 * The first few unknown keys, each cut short: a hostile object (or a byte array, whose indices
 * zod reads as keys) can have hundreds of thousands, and listing them all made a 2 MB message.
 */
function listKeys(keys: readonly string[]): string {
  const shown = keys
    .slice(0, SHOWN_KEYS)
    .map((key) =>
      key.length > SHOWN_KEY_LENGTH
        ? `${JSON.stringify(key.slice(0, SHOWN_KEY_LENGTH))}…`
        : JSON.stringify(key),
    );
  const more = keys.length > SHOWN_KEYS ? ` and ${keys.length - SHOWN_KEYS} more` : '';
  return `${shown.join(', ')}${more}`;
}

function sizeUnit(origin: string): string {
  if (origin === 'string') return ' characters';
  if (origin === 'array' || origin === 'set') return ' items';
  return '';
}

/** The issues of a zod error in otakit's form. */
export function toValidationIssues(error: z.core.$ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), expected: describeIssue(issue) }));
}

/**
 * Parses `input` with `schema`; throws a {@link ManifestError} describing `what` on failure.
 *
 * @example
 * ```ts
 * const manifest = parseWith(ManifestSchema, json, 'manifest')
 * ```
 */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = guardedSafeParse(schema, input, what);
  if (result.success) return result.data;
  throw new ManifestError(what, toValidationIssues(result.error));
}

/**
 * zod validates recursively: absurdly deep input (a 100 KB `[[[[…` inside a free-form JSON field)
 * overflows the stack. That is bad input like any other, so it becomes a ManifestError.
 *
 * Bytes where an object belongs are refused up front: zod reads a byte array as an object whose
 * keys are its indices, so it walked every byte (half a second for 200 kB on a loaded machine)
 * only to report hundreds of thousands of unknown keys.
 */
function guardedSafeParse<S extends z.ZodType>(schema: S, input: unknown, what: string) {
  if (isBytes(input) && schema._zod.def.type === 'object') {
    throw new ManifestError(what, [{ path: '', expected: 'an object (got bytes)' }]);
  }
  try {
    return schema.safeParse(input);
  } catch (cause) {
    if (cause instanceof RangeError) {
      throw new ManifestError(what, [{ path: '', expected: 'a less deeply nested value' }], { cause });
    }
    throw cause;
  }
}

/** Like {@link parseWith} but returns a result instead of throwing. */
export function safeParseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
): { success: true; data: z.output<S> } | { success: false; error: ManifestError } {
  let result: ReturnType<typeof guardedSafeParse<S>>;
  try {
    result = guardedSafeParse(schema, input, what);
  } catch (error) {
    if (error instanceof ManifestError) return { success: false, error };
    throw error;
  }
  if (result.success) return { success: true, data: result.data };
  return { success: false, error: new ManifestError(what, toValidationIssues(result.error)) };
}
