/**
 * HTTP Basic auth as micropython_ota sends it (docs/protocols/micropythonOta.md):
 * `Authorization: Basic base64(user:passwd)` on the version request and on every file request. Browser-safe: UTF-8 by
 * `TextEncoder`, base64 by `btoa`, no `Buffer`.
 *
 * @module
 */
import { encodeBase64 } from '../../core/encoding.js';
import { OtaError } from '../../core/errors.js';

/** Credentials for the OTA server. Empty strings count as absent, as in Python. */
export interface BasicCredentials {
  user?: string | null | undefined;
  /** The reference calls it `passwd`. Never appears in an error message. */
  password?: string | null | undefined;
}

export interface BasicAuthOptions {
  /**
   * Accept what the reference accepts: a user name containing `:` (which makes the header
   * ambiguous, RFC 7617 section 2) and control characters. Off: such credentials are refused.
   * @default false
   */
  strictCompat?: boolean;
}

/** The reference's own `ValueError` text, so logs read the same. */
const ONE_GIVEN = 'Either only user or pass given. None or both are required.';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The request headers that carry the credentials: `{}` when neither is given, else
 * `{ Authorization: 'Basic …' }`.
 *
 * @throws OtaError `CONFIG` when exactly one of user and password is given (the reference raises
 *   `ValueError`), or, unless `strictCompat`, when the user contains `:` or either contains a control
 *   character. The message names the field, never its value.
 *
 * @example
 * ```ts
 * basicAuthHeaders({ user: 'hello', password: 'world' })
 * // { Authorization: 'Basic aGVsbG86d29ybGQ=' }
 * ```
 */
export function basicAuthHeaders(
  credentials: BasicCredentials = {},
  options: BasicAuthOptions = {},
): Record<string, string> {
  const { user, password } = credentials;
  const hasUser = typeof user === 'string' && user !== '';
  const hasPassword = typeof password === 'string' && password !== '';
  if (!hasUser && !hasPassword) return {};
  if (!hasUser || !hasPassword) throw new OtaError('CONFIG', ONE_GIVEN);
  if (!options.strictCompat) {
    if (user.includes(':')) {
      throw new OtaError('CONFIG', 'The Basic auth user must not contain ":" (RFC 7617)');
    }
    if (CONTROL.test(user)) throw new OtaError('CONFIG', 'The Basic auth user contains a control character');
    if (CONTROL.test(password)) {
      throw new OtaError('CONFIG', 'The Basic auth password contains a control character');
    }
  }
  return { Authorization: `Basic ${base64Utf8(`${user}:${password}`)}` };
}

/** Base64 of the UTF-8 bytes of `text`, with web standards only. */
export function base64Utf8(text: string): string {
  return encodeBase64(new TextEncoder().encode(text));
}
