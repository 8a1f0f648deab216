/**
 * Redaction with every secret otakit knows: the generic list plus what each registered protocol
 * declares. These are the `redactUrl`, `redactText` and `redactHeaders` of the root entry and
 * what the download engine applies to every URL, header and message it prints.
 *
 * @module
 */
import {
  GENERIC_SECRETS,
  mergeSecrets,
  redactHeadersWith,
  redactTextWith,
  redactUrlWith,
  type SecretPatterns,
} from '../core/redact.js';
import { PROTOCOL_DESCRIPTORS } from './descriptors.js';

/** The generic secrets and every registered protocol's. */
export const KNOWN_SECRETS: SecretPatterns = /* @__PURE__ */ mergeSecrets(
  GENERIC_SECRETS,
  ...Object.values(PROTOCOL_DESCRIPTORS).map((descriptor) => descriptor.secrets),
);

/**
 * `url` with user info, secret query parameters and credential paths masked.
 *
 * @example
 * ```ts
 * redactUrl('https://u:pw@h/p?dk=abc&x=1') // 'https://u:***@h/p?dk=***&x=1'
 * ```
 */
export function redactUrl(url: string, secrets: SecretPatterns = KNOWN_SECRETS): string {
  return redactUrlWith(url, secrets);
}

/** Free text with the credentials of every URL in it masked. */
export function redactText(text: string, secrets: SecretPatterns = KNOWN_SECRETS): string {
  return redactTextWith(text, secrets);
}

/** A copy of `headers` with secret values masked. */
export function redactHeaders(
  headers: Record<string, string>,
  secrets: SecretPatterns = KNOWN_SECRETS,
): Record<string, string> {
  return redactHeadersWith(headers, secrets);
}
