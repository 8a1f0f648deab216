/**
 * `application/x-www-form-urlencoded` bodies of the Exosite HTTP device API (docs/protocols/exosite.md,
 * "HTTP device API"): a write sends `alias=value&alias=value`, a read answers the same way. Resource values
 * are themselves JSON strings, so a manifest travels encoded twice: JSON inside percent-encoding.
 *
 * The decoder is stricter than `URLSearchParams`: a malformed escape (`%E0%A4%A`, `%zz`) is an error instead
 * of a silent U+FFFD, an alias may appear once, and every name must be an alias.
 *
 * @module
 */
import { ManifestError, OtaError, type ValidationIssue } from '../../core/errors.js';
import { wireText } from '../../core/wire.js';
import { assertAlias, isAlias } from './alias.js';
import { LIMITS } from './limits.js';

/**
 * Form-encodes one name or value, byte-identical to `URLSearchParams`: only
 * `A-Z a-z 0-9 * - . _` stay literal, a space becomes `+`, the rest is UTF-8 percent-encoded.
 *
 * @throws OtaError `CONFIG` for a string with a lone surrogate (it has no UTF-8 form).
 */
export function formEncodeComponent(value: string): string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(value);
  } catch (cause) {
    throw new OtaError('CONFIG', 'Cannot form-encode a string with a lone surrogate', { cause });
  }
  return encoded
    .replace(/[!'()~]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * Encodes a write of one or more aliases, in the order given.
 *
 * @throws OtaError `CONFIG` for an invalid alias, a value over {@link LIMITS.resourceBytes}, more
 *   than {@link LIMITS.formFields} aliases, or no alias at all. Values never appear in the error.
 *
 * @example
 * ```ts
 * encodeForm({ otau_in: '{"version":"1.0.2","status":"DOWNLOAD","message":""}', temp: '21.5' })
 * // 'otau_in=%7B%22version%22%3A%221.0.2%22%2C...%7D&temp=21.5'
 * ```
 */
export function encodeForm(values: Readonly<Record<string, string>>): string {
  const entries = Object.entries(values);
  if (entries.length === 0) throw new OtaError('CONFIG', 'An Exosite write needs at least one alias');
  if (entries.length > LIMITS.formFields) {
    throw new OtaError('CONFIG', `An Exosite write takes at most ${LIMITS.formFields} aliases`);
  }
  const encoder = new TextEncoder();
  return entries
    .map(([alias, value]) => {
      assertAlias(alias);
      if (typeof value !== 'string') throw new OtaError('CONFIG', `Value of ${alias} must be a string`);
      // A UTF-16 unit is at most 3 UTF-8 bytes: only count when the value could be over.
      if (value.length * 3 > LIMITS.resourceBytes && encoder.encode(value).length > LIMITS.resourceBytes) {
        throw new OtaError('CONFIG', `Value of ${alias} exceeds ${LIMITS.resourceBytes} bytes`);
      }
      return `${alias}=${formEncodeComponent(value)}`;
    })
    .join('&');
}

function decodeComponent(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * Decodes a form body (a read response, or a write as a test server sees it) into alias → value.
 * Empty segments (`a=1&&b=2`) are skipped, as every form parser does; a segment without `=` is an
 * alias with an empty value.
 *
 * @param body Text or UTF-8 bytes of the body.
 * @returns The values, in a null-prototype object (an alias named `__proto__` is just an alias).
 * @throws ManifestError (`MANIFEST_INVALID`) for a body over {@link LIMITS.formBytes}, bytes that
 *   are not UTF-8, a name that is not an alias, a malformed escape, a repeated alias, or more than
 *   {@link LIMITS.formFields} fields. Errors name the alias (or the field index), never a value.
 *
 * @example
 * ```ts
 * decodeForm('config_otau=%7B%22version%22%3A%221.0.2%22%7D').config_otau // '{"version":"1.0.2"}'
 * ```
 */
export function decodeForm(body: string | Uint8Array): Record<string, string> {
  const what = 'Exosite form body';
  const text = wireText(body, { what, maxBytes: LIMITS.formBytes });
  if (typeof text !== 'string') {
    throw new ManifestError(what, [{ path: '', expected: 'a string or UTF-8 bytes' }]);
  }
  const values: Record<string, string> = Object.create(null);
  // Every bad field is named, not only the first one.
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  const segments = text.split('&');
  let fields = 0;
  for (const [index, segment] of segments.entries()) {
    if (segment === '') continue;
    if (++fields > LIMITS.formFields) {
      throw new ManifestError(what, [{ path: '', expected: `at most ${LIMITS.formFields} fields` }]);
    }
    const equals = segment.indexOf('=');
    const rawName = equals === -1 ? segment : segment.slice(0, equals);
    const rawValue = equals === -1 ? '' : segment.slice(equals + 1);
    const name = decodeComponent(rawName);
    if (name === undefined || !isAlias(name)) {
      issues.push({ path: `[${index}]`, expected: 'a resource alias as field name' });
      continue;
    }
    if (seen.has(name)) {
      issues.push({ path: name, expected: 'each alias at most once' });
      continue;
    }
    seen.add(name);
    const value = decodeComponent(rawValue);
    if (value === undefined) {
      issues.push({ path: name, expected: 'valid percent-encoded UTF-8' });
      continue;
    }
    values[name] = value;
  }
  if (issues.length > 0) throw new ManifestError(what, issues);
  return values;
}
