/**
 * Redaction of credentials in anything otakit prints: URLs (user info, secret query parameters)
 * and header values. Applied to every URL that reaches an error message, an event or a log.
 *
 * @module
 */

/** Query parameters whose values are secrets in the supported platforms (insigh.io `dk`, tokens…). */
export const SECRET_QUERY_PARAMETERS: readonly string[] = [
  'dk',
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
  'cik',
];

/** Header names whose values are secrets. */
export const SECRET_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-exosite-cik',
  'x-api-key',
  'x-amz-security-token',
];

const MASK = '***';

/** URL path segments that are credentials: ThingsBoard's device token (`/api/v1/<token>/…`). */
const SECRET_PATH = /(\/api\/v1\/)[^/?#]+(?=\/)/g;

/**
 * `https://user:pw@host/p?dk=abc&x=1` → `https://user:***@host/p?dk=***&x=1`. Works on relative
 * paths and malformed URLs too (by pattern), so nothing slips through a parse failure.
 */
export function redactUrl(
  url: string,
  secretParameters: readonly string[] = SECRET_QUERY_PARAMETERS,
): string {
  const secrets = new Set(secretParameters.map((name) => name.toLowerCase()));
  const withoutUserInfo = url.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i,
    (_match, scheme: string, info: string) => {
      const user = info.split(':')[0] ?? '';
      return `${scheme}${user}:${MASK}@`;
    },
  );
  return withoutUserInfo
    .replace(/([?&;])([^=&#;]+)=([^&#;]*)/g, (match, separator: string, name: string) => {
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return secrets.has(decoded.toLowerCase()) ? `${separator}${name}=${MASK}` : match;
    })
    .replace(SECRET_PATH, `$1${MASK}`);
}

/**
 * Masks credentials anywhere in free text (an error message from another library, a status
 * message): user info and secret query parameters of every URL in it, and token path segments.
 */
export function redactText(text: string): string {
  const withoutUserInfo = text.replace(
    /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s]*)@/gi,
    (_match, scheme: string, info: string) => `${scheme}${info.split(':')[0] ?? ''}:${MASK}@`,
  );
  return redactUrl(withoutUserInfo);
}

/** A copy of `headers` with secret values masked. */
export function redactHeaders(
  headers: Record<string, string>,
  secretHeaders: readonly string[] = SECRET_HEADERS,
): Record<string, string> {
  const secrets = new Set(secretHeaders.map((name) => name.toLowerCase()));
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, secrets.has(name.toLowerCase()) ? MASK : value]),
  );
}
