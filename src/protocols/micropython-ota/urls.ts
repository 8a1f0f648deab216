/**
 * URLs of a micropython_ota server (docs/protocols/micropythonOta.md) and the requests a client
 * makes to it.
 *
 * | resource | URL |
 * | --- | --- |
 * | version file | `{host}/{project}/version` |
 * | file, prefix layout (default) | `{host}/{project}/{version}_{filename}` |
 * | file, subdirectory layout | `{host}/{project}/{version}/{filename}` |
 *
 * Hardened (default): names are validated (see `names.ts`; a tag has only characters a URL path
 * carries raw, so it is never escaped), trailing slashes on the host are
 * dropped, and every path segment is percent-encoded. Names of the safe alphabet that are plain
 * ASCII come out byte for byte as the reference builds them, because sub-delimiters, `:` and `@`
 * stay literal (RFC 3986 `pchar`). `strictCompat`: plain concatenation, as the reference does.
 *
 * @module
 */
import type * as z from 'zod';
import { ManifestError } from '../../core/errors.js';
import { toValidationIssues } from '../../core/validate.js';
import { type BasicCredentials, basicAuthHeaders } from './auth.js';
import { DEFAULTS } from './limits.js';
import { FilenameSchema, HostSchema, ProjectSchema, VersionTagSchema } from './names.js';

/** Where the files of a version live next to the `version` file. */
export type Layout = 'prefix' | 'subdirectory';

export const LAYOUTS = ['prefix', 'subdirectory'] as const satisfies readonly Layout[];

export interface UrlOptions {
  /**
   * Build URLs exactly as the reference does: no validation, no escaping, no slash
   * normalisation (`http://h/` + `sample` → `http://h//sample/version`).
   * @default false
   */
  strictCompat?: boolean;
}

/** Where a project lives. */
export interface ProjectLocation {
  /** Server base URL, e.g. `https://ota.example.com` or `https://example.com/ota`. */
  host: string;
  /** Project directory on the server, e.g. `sample`. */
  project: string;
}

/** One file of one version. */
export interface FileLocation extends ProjectLocation {
  version: string;
  filename: string;
  /** @default 'prefix' (the reference's `use_version_prefix=True`) */
  layout?: Layout;
}

/**
 * Percent-encodes one path segment, leaving RFC 3986 `pchar` delimiters (`!$&'()*+,;=:@`)
 * literal, so ASCII names come out as an unescaping client would send them.
 */
export function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%(2[146789ABC]|3[ABD]|40)/g, (percent) =>
    decodeURIComponent(percent),
  );
}

function encodePath(path: string): string {
  return path.split('/').map(encodePathSegment).join('/');
}

/** Validates one name; a failure names `path` and the rule, never the rejected value. */
function check(schema: z.ZodType<string>, value: unknown, path: string): string {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = toValidationIssues(result.error).map((issue) => ({ path, expected: issue.expected }));
  throw new ManifestError('micropython_ota URL', issues);
}

function base(location: ProjectLocation): string {
  const host = check(HostSchema, location.host, 'host').replace(/\/+$/, '');
  const project = check(ProjectSchema, location.project, 'project');
  return `${host}/${encodePath(project)}`;
}

/**
 * URL of the project's `version` file.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming `host` or `project` when one is invalid
 *   (not in `strictCompat`).
 *
 * @example
 * ```ts
 * versionFileUrl({ host: 'http://example.org', project: 'sample' })
 * // 'http://example.org/sample/version'
 * ```
 */
export function versionFileUrl(location: ProjectLocation, options: UrlOptions = {}): string {
  if (options.strictCompat) return `${location.host}/${location.project}/${DEFAULTS.versionFile}`;
  return `${base(location)}/${DEFAULTS.versionFile}`;
}

/**
 * URL of one file of a version, in either layout.
 *
 * @example
 * ```ts
 * fileUrl({ host: 'http://example.org', project: 'sample', version: 'v1.0.1', filename: 'main.py' })
 * // 'http://example.org/sample/v1.0.1_main.py'
 * ```
 */
export function fileUrl(location: FileLocation, options: UrlOptions = {}): string {
  const layout = location.layout ?? 'prefix';
  const separator = layout === 'prefix' ? '_' : '/';
  if (options.strictCompat) {
    return `${location.host}/${location.project}/${location.version}${separator}${location.filename}`;
  }
  const version = check(VersionTagSchema, location.version, 'version');
  const filename = check(FilenameSchema, location.filename, 'filename');
  return `${base(location)}/${encodePathSegment(version)}${separator}${encodePath(filename)}`;
}

/**
 * URL of the signed statement of a version (otakit's companion file, which the reference never
 * fetches): `<host>/<project>/<version>.otakit.json`, beside the version's files in either layout.
 *
 * @example
 * ```ts no-run
 * statementUrl({ host: 'http://example.org', project: 'sample', version: 'v1.0.1' })
 * // 'http://example.org/sample/v1.0.1.otakit.json'
 * ```
 */
export function statementUrl(location: ProjectLocation & { version: string }): string {
  const version = check(VersionTagSchema, location.version, 'version');
  return `${base(location)}/${encodePathSegment(version)}${STATEMENT_SUFFIX}`;
}

/** The suffix of a version's signed statement file (see {@link statementUrl}). */
export const STATEMENT_SUFFIX = '.otakit.json';

/**
 * URL of the file list proposed in open PR #20 (`{version}{sep}manifest`), which names the files
 * and directories of a version. Not part of v2.1.0.
 */
export function fileListUrl(location: Omit<FileLocation, 'filename'>, options: UrlOptions = {}): string {
  return fileUrl({ ...location, filename: DEFAULTS.fileList }, options);
}

/** A request the client makes: method, URL, headers, timeout. Feed it to `fetch` or ky. */
export interface OtaRequest {
  method: 'GET';
  url: string;
  /** Holds the `Authorization` header when credentials are given: do not log it. */
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface RequestOptions extends UrlOptions {
  /** Basic auth credentials; both or neither (see `basicAuthHeaders`). */
  auth?: BasicCredentials;
  /** @default 5000 (the reference's `timeout=5`) */
  timeoutMs?: number;
}

/**
 * The request that reads the server's `version` file.
 *
 * @example
 * ```ts
 * const request = versionRequest({ host: 'https://example.com', project: 'sample' })
 * const response = await fetch(request.url, { headers: request.headers, signal: AbortSignal.timeout(request.timeoutMs) })
 * ```
 */
export function versionRequest(location: ProjectLocation, options: RequestOptions = {}): OtaRequest {
  return {
    method: 'GET',
    url: versionFileUrl(location, options),
    headers: basicAuthHeaders(options.auth, options),
    timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
  };
}

/** The requests that fetch the files of a version, in the order given (the reference's order). */
export function fileRequests(
  release: ProjectLocation & { version: string; filenames: readonly string[]; layout?: Layout },
  options: RequestOptions = {},
): Array<OtaRequest & { filename: string }> {
  const headers = basicAuthHeaders(options.auth, options);
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  return release.filenames.map((filename) => ({
    method: 'GET',
    url: fileUrl({ ...release, filename }, options),
    headers: { ...headers },
    timeoutMs,
    filename,
  }));
}
