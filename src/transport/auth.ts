/**
 * Credentials for artifact downloads, as the supported platforms use them: HTTP Basic
 * (micropython_ota), a header token (Exosite `X-Exosite-CIK`, bearer tokens). Query credentials
 * (insigh.io `dk=`) live in the URL itself and are redacted wherever the URL is printed.
 *
 * @module
 */

export type DownloadAuth =
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | { type: 'header'; name: string; value: string };

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 of bytes, without relying on `btoa`'s Latin-1 limits or Node's `Buffer`. */
export function base64(bytes: Uint8Array): string {
  let out = '';
  for (let index = 0; index < bytes.length; index += 3) {
    const a = bytes[index]!;
    const b = bytes[index + 1];
    const c = bytes[index + 2];
    out += BASE64[a >> 2];
    out += BASE64[((a & 3) << 4) | ((b ?? 0) >> 4)];
    out += b === undefined ? '=' : BASE64[((b & 15) << 2) | ((c ?? 0) >> 6)];
    out += c === undefined ? '=' : BASE64[c & 63];
  }
  return out;
}

/** `Authorization: Basic …` value for UTF-8 credentials (RFC 7617). */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${base64(new TextEncoder().encode(`${username}:${password}`))}`;
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
  }
}
