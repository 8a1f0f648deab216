/**
 * Where a release lives under the server root, and which names a release may have. A name is
 * what the protocol accepts (docs/protocols/micropythonOta.md: tags a URL path carries raw,
 * file names without `.`/`..` segments, whitespace, `\ ? # %`), minus what would clash with
 * the server's own files: no segment starting with `.` (the server never serves dot files; the
 * publisher's temporary files are dot files), no file named `version` or `manifest` at the top
 * (the project's `version` file and the release's file list), and no tag `version` (its
 * subdirectory would be the `version` file).
 *
 * @module
 */
import { join } from 'node:path';
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { DEFAULTS, LIMITS } from '../../protocols/micropython-ota/limits.js';
import {
  FilenameSchema,
  ProjectSchema,
  TAG_RULE,
  versionTagProblem,
} from '../../protocols/micropython-ota/names.js';
import { LAYOUTS, type Layout } from '../../protocols/micropython-ota/urls.js';

const WHAT = 'micropython_ota release';

/** The problem with a project path, or `undefined`. */
export function projectProblem(project: unknown): string | undefined {
  if (
    !ProjectSchema.safeParse(project).success ||
    (project as string).split('/').some((s) => s.startsWith('.'))
  ) {
    return 'a project path: segments of printable characters without whitespace, \\ ? # %, none starting with . (such as sample or fleet/sample)';
  }
  return undefined;
}

/** The problem with a version tag, or `undefined`. */
export function tagProblem(version: unknown): string | undefined {
  const problem = versionTagProblem(version);
  if (problem !== undefined) return problem;
  if ((version as string).startsWith('.') || version === DEFAULTS.versionFile) {
    return `${TAG_RULE}; not starting with . and not "version"`;
  }
  return undefined;
}

/** The problem with a file name of a release, or `undefined`. */
export function filenameProblem(name: string): string | undefined {
  if (!FilenameSchema.safeParse(name).success || name.split('/').some((segment) => segment.startsWith('.'))) {
    return 'a relative file name: no leading /, no empty segment or segment starting with ., no whitespace, \\ ? # %';
  }
  if (name === DEFAULTS.versionFile || name === DEFAULTS.fileList) {
    return `a file name other than "${DEFAULTS.versionFile}" and "${DEFAULTS.fileList}" (the server's own files)`;
  }
  return undefined;
}

/** Checks a project and a tag (and a layout when given), naming each bad field. */
export function checkRelease(fields: { project: unknown; version: unknown; layout?: unknown }): void {
  const issues: ValidationIssue[] = [];
  const project = projectProblem(fields.project);
  if (project !== undefined) issues.push({ path: 'project', expected: project });
  const version = tagProblem(fields.version);
  if (version !== undefined) issues.push({ path: 'version', expected: version });
  if (fields.layout !== undefined && !LAYOUTS.includes(fields.layout as Layout)) {
    issues.push({ path: 'layout', expected: `one of ${LAYOUTS.join(', ')}` });
  }
  if (issues.length > 0) throw new ManifestError(WHAT, issues);
}

/** Checks the file names of a release, naming bad ones by their index (`files[1]`), never by value. */
export function checkFilenames(names: readonly string[]): void {
  if (names.length === 0 || names.length > LIMITS.files) {
    throw new ManifestError(WHAT, [{ path: 'files', expected: `1 to ${LIMITS.files} files` }]);
  }
  const issues: ValidationIssue[] = [];
  names.forEach((name, index) => {
    const problem = filenameProblem(name);
    if (problem !== undefined) issues.push({ path: `files[${index}]`, expected: problem });
  });
  if (issues.length > 0) throw new ManifestError(WHAT, issues);
}

/** The directory of a project under the root. */
export function projectDirectory(root: string, project: string): string {
  return join(root, ...project.split('/'));
}

/** Where one file of a release lies: `<version>_<file>` or `<version>/<file>`. */
export function releaseFilePath(
  root: string,
  project: string,
  version: string,
  name: string,
  layout: Layout,
): string {
  const directory = projectDirectory(root, project);
  return layout === 'prefix' ? join(directory, `${version}_${name}`) : join(directory, version, name);
}
