/**
 * micropython_ota (olivergregorius/micropython_ota v2.1.0, PROTOCOLS.md §2): a device polls
 * `<host>/<project>/version`, and when the tag differs from its local `version` file it fetches
 * each file from `<project>/<version>_<file>` (or `<project>/<version>/<file>`), stages them in
 * `tmp/`, copies them over, writes the tag and resets. Optional HTTP Basic auth; no digest, no
 * size, no status report. Browser-safe.
 *
 * Hardened by default (validated names, escaped URLs, first-line tags, binary-safe writes);
 * `strictCompat` reproduces the reference where it differs.
 *
 * @example
 * ```ts
 * import { micropythonOta } from 'otakit'
 *
 * const request = micropythonOta.versionRequest({ host: 'https://ota.example.com', project: 'sample' })
 * const response = await fetch(request.url, { headers: request.headers })
 * const check = micropythonOta.evaluateVersionCheck(
 *   micropythonOta.readLocalVersion(localVersionFileOrNull),
 *   { status: response.status, body: await response.text() },
 * )
 * if (check.changed) {
 *   const { value: manifest, lost } = micropythonOta.toCanonical({
 *     host: 'https://ota.example.com', project: 'sample', version: check.version, filenames: ['main.py'],
 *   })
 * }
 * ```
 *
 * @module
 */
export { type BasicAuthOptions, type BasicCredentials, base64Utf8, basicAuthHeaders } from './auth.js';
export { decodeRelease, fromCanonical, toCanonical } from './codec.js';
export { encodeFileList, type FileList, parseFileList } from './file-list.js';
export { DEFAULTS, LIMITS } from './limits.js';
export {
  FILENAME_PATTERN,
  FilenameSchema,
  HostSchema,
  isVersionTag,
  PROJECT_PATTERN,
  ProjectSchema,
  pyStrip,
  VERSION_TAG_PATTERN,
  VersionTagSchema,
} from './names.js';
export {
  type FileOutcome,
  type InstallPlan,
  type InstallPlanOptions,
  installPlan,
  periodicCheckAction,
  type ResetAction,
  type ResetFlags,
  resetAction,
  type StagedFile,
  type WriteMode,
} from './plan.js';
export {
  EXTENSION_KEY,
  type Extension,
  ExtensionSchema,
  jsonSchemas,
  LayoutSchema,
  type Release,
  type ReleaseInput,
  ReleaseSchema,
} from './schemas.js';
export { LOCAL_PHASES, type LocalPhase, phaseToState, statusMapping, statusToPhase } from './status.js';
export {
  encodePathSegment,
  type FileLocation,
  fileListUrl,
  fileRequests,
  fileUrl,
  LAYOUTS,
  type Layout,
  type OtaRequest,
  type ProjectLocation,
  type RequestOptions,
  type UrlOptions,
  versionFileUrl,
  versionRequest,
} from './urls.js';
export {
  encodeVersionFile,
  evaluateVersionCheck,
  parseRemoteVersion,
  readLocalVersion,
  type VersionCheck,
  type VersionCheckOutcome,
  type VersionFileOptions,
  type VersionResponse,
} from './version-file.js';
