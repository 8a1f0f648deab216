/**
 * Credentials for artifact downloads, as the supported platforms use them: HTTP Basic
 * (micropython_ota), a header token (Exosite `X-Exosite-CIK`, bearer tokens). Query credentials
 * (insigh.io `dk=`) live in the URL itself and are redacted wherever the URL is printed.
 *
 * @module
 */

import type { DownloadAuth } from '../core/credentials.js';
import { encodeBase64 } from '../core/encoding.js';
import { OtaError } from '../core/errors.js';

export type { DownloadAuth };

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * `Authorization: Basic …` value for UTF-8 credentials (RFC 7617).
 * @throws OtaError `CONFIG` for a user containing `:` or either part containing a control
 *   character (neither could be decoded back); the message never includes the values.
 */
export function basicAuthorization(username: string, password: string): string {
  if (username.includes(':'))
    throw new OtaError('CONFIG', 'The Basic auth user must not contain ":" (RFC 7617)');
  if (CONTROL.test(username) || CONTROL.test(password)) {
    throw new OtaError('CONFIG', 'Basic auth credentials must not contain control characters');
  }
  return `Basic ${encodeBase64(new TextEncoder().encode(`${username}:${password}`))}`;
}

/** The request headers an auth setting adds. */
export function authHeaders(auth: DownloadAuth | undefined): Record<string, string> {
  switch (auth?.type) {
    case undefined:
      return {};
    case 'basic':
      return { authorization: basicAuthorization(auth.username, auth.password) };
    case 'bearer':
      return { authorization: `Bearer ${auth.token}` };
    case 'header':
      return { [auth.name.toLowerCase()]: auth.value };
    case 'query':
      return {};
  }
}

/** `url` with the query credential of `auth` added, when it has one. */
export function withQueryCredential(url: string, auth: DownloadAuth | undefined): string {
  if (auth?.type !== 'query') return url;
  const parsed = new URL(url);
  parsed.searchParams.set(auth.name, auth.value);
  return parsed.href;
}
