/**
 * micropython_ota (olivergregorius/micropython_ota v2.1.0; wire details in
 * docs/protocols/micropythonOta.md): a device polls `<host>/<project>/version`, and when the tag
 * differs from its local `version` file it fetches each file from `<project>/<version>_<file>`
 * (or `<project>/<version>/<file>`), stages them in `tmp/`, copies them over, writes the tag and
 * resets. Optional HTTP Basic auth; no digest, no size, no status report. Browser-safe.
 *
 * `protocol` is the platform behind the shared contract (the same names as every other
 * platform); the functions next to it are the pieces it is built from, for agents that need the
 * reference's exact behaviour. Hardened by default (validated names, escaped URLs, first-line
 * tags, binary-safe writes); `strictCompat` on those functions reproduces the reference where it
 * differs.
 *
 * @example
 * ```ts
 * import { micropythonOta } from 'otakit'
 *
 * const target = { host: 'https://ota.example.com', project: 'sample', filenames: ['main.py'] }
 * const [source] = micropythonOta.protocol.device.orderSources(target)
 * // source: { channel: 'http', request: { method: 'GET', address: 'https://ota.example.com/sample/version', … } }
 * const { value: manifest } = micropythonOta.protocol.device.decodeOrder(
 *   { address: 'https://ota.example.com/sample/version', payload: 'v1.0.1\n', status: 200 },
 *   { target, current: null },
 * )
 * // manifest.artifacts[0].url === 'https://ota.example.com/sample/v1.0.1_main.py'
 * ```
 *
 * @module
 */
export { type BasicAuthOptions, type BasicCredentials, base64Utf8, basicAuthHeaders } from './auth.js';
export { decodeRelease, fromCanonical, toCanonical } from './codec.js';
export { descriptor } from './descriptor.js';
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
export { protocol } from './protocol.js';
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
export { BasicAuthSchema, type Target, TargetSchema } from './target.js';
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
