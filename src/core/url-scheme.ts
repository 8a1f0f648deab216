/**
 * Which URL schemes an artifact may use. Artifacts are fetched over `https:` or `http:`, or
 * carried inline in the order itself as a `data:` URL (Exosite JSON-type manifests); a path
 * without a scheme is relative to the platform's content store. Anything else (`file:`, `ftp:`,
 * `javascript:`, `blob:`…) is refused before any request: a manifest must never make a device
 * read its own files or speak a protocol otakit does not verify.
 *
 * @module
 */

/** Schemes a download may use. */
export const NETWORK_SCHEMES = ['https:', 'http:'] as const;

/** The scheme of `url` in lower case with its colon (`https:`), or `null` for a relative path. */
export function schemeOf(url: string): string | null {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return match === null ? null : `${match[1]!.toLowerCase()}:`;
}

/** Whether `url` may name an artifact in a manifest: https, http, data or relative. */
export function isArtifactUrl(url: string): boolean {
  const scheme = schemeOf(url);
  return scheme === null || scheme === 'https:' || scheme === 'http:' || scheme === 'data:';
}
