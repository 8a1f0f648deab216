/**
 * Redaction of credentials in anything otakit prints: URLs (user info, secret query parameters,
 * credential path segments) and header values. The mechanism lives here; *which* names are
 * secret is data ({@link SecretPatterns}): a generic list below, plus what each protocol declares
 * (insigh.io's `dk`, Exosite's CIK, ThingsBoard's token path). The root entry's `redactUrl`,
 * `redactText` and `redactHeaders` use the union of all of them.
 *
 * @module
 */

/** What counts as a secret: query parameter names, header names, path patterns. */
export interface SecretPatterns {
  /** Query parameter names whose values are secrets (compared case-insensitively). */
  readonly queryParameters: readonly string[];
  /** Header names whose values are secrets (compared case-insensitively). */
  readonly headers: readonly string[];
  /**
   * Patterns of credentials in a URL path. Each must be global (`g`) and capture what to keep
   * in group 1: `$1` is kept, the rest of the match becomes `***`.
   */
  readonly paths: readonly RegExp[];
}

/** Secrets whatever the platform: OAuth tokens, passwords, signed-URL signatures, cookies. */
export const GENERIC_SECRETS: SecretPatterns = {
  queryParameters: [
    'key',
    'token',
    'access_token',
    'password',
    'pass',
    'secret',
    'signature',
    'sig',
    'x-amz-signature',
    'x-amz-credential',
    'x-amz-security-token',
  ],
  headers: [
    'authorization',
    'proxy-authorization',
    'cookie',
    'set-cookie',
    'x-api-key',
    'x-amz-security-token',
  ],
  paths: [],
};

/** One list holding every name and pattern of `lists`, without repeats. */
export function mergeSecrets(...lists: readonly SecretPatterns[]): SecretPatterns {
  const unique = <T>(values: T[]) => [...new Set(values)];
  return {
    queryParameters: unique(lists.flatMap((list) => list.queryParameters.map((name) => name.toLowerCase()))),
    headers: unique(lists.flatMap((list) => list.headers.map((name) => name.toLowerCase()))),
    paths: unique(lists.flatMap((list) => list.paths)),
  };
}

const MASK = '***';

/**
 * `https://user:pw@host/p?dk=abc&x=1` → `https://user:***@host/p?dk=***&x=1` for `secrets`. Works
 * on relative paths and malformed URLs too (by pattern), so nothing slips through a parse failure.
 */
export function redactUrlWith(url: string, secrets: SecretPatterns): string {
  const names = new Set(secrets.queryParameters.map((name) => name.toLowerCase()));
  const withoutUserInfo = url.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i,
    (_match, scheme: string, info: string) => {
      const user = info.split(':')[0] ?? '';
      return `${scheme}${user}:${MASK}@`;
    },
  );
  let out = withoutUserInfo.replace(
    /([?&;])([^=&#;]+)=([^&#;]*)/g,
    (match, separator: string, name: string) => {
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return names.has(decoded.toLowerCase()) ? `${separator}${name}=${MASK}` : match;
    },
  );
  for (const pattern of secrets.paths) out = out.replace(pattern, `$1${MASK}`);
  return out;
}

/**
 * Masks credentials anywhere in free text (an error message from another library, a status
 * message): user info and secret query parameters of every URL in it, and credential paths.
 */
export function redactTextWith(text: string, secrets: SecretPatterns): string {
  const withoutUserInfo = text.replace(
    /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s]*)@/gi,
    (_match, scheme: string, info: string) => `${scheme}${info.split(':')[0] ?? ''}:${MASK}@`,
  );
  return redactUrlWith(withoutUserInfo, secrets);
}

/** A copy of `headers` with the values of secret headers masked. */
export function redactHeadersWith(
  headers: Record<string, string>,
  secrets: SecretPatterns,
): Record<string, string> {
  const names = new Set(secrets.headers.map((name) => name.toLowerCase()));
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, names.has(name.toLowerCase()) ? MASK : value]),
  );
}
