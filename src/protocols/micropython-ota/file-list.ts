/**
 * The optional file list of open PR #20 (not in v2.1.0; see docs/protocols/micropythonOta.md):
 * a text file at `{version}{sep}manifest` naming the files of a version, separated by
 * whitespace. Entries ending in `/` are directories to create and must come before their files. It lets the server, rather
 * than the device's `filenames` argument, say what a version contains.
 *
 * @module
 */
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { wireText } from '../../core/wire.js';
import { LIMITS } from './limits.js';
import { FILENAME_PATTERN } from './names.js';

/** A parsed file list: directories (without the trailing `/`) and files, each in listed order. */
export interface FileList {
  directories: string[];
  files: string[];
}

const WHAT = 'micropython_ota file list';
const NAME_RULE = 'a relative file name without empty, . or .. segments, whitespace, \\ ? # %';

function parentOf(name: string): string | undefined {
  const slash = name.lastIndexOf('/');
  return slash === -1 ? undefined : name.slice(0, slash);
}

/**
 * Parses a PR #20 file list. Every name must be safe (`FILENAME_PATTERN`), every file in a
 * sub-directory must follow the entry of that directory, and there are at most `LIMITS.files`
 * entries in at most `LIMITS.fileListBytes` bytes.
 *
 * @throws ManifestError naming each bad entry by its index (`[3]`).
 *
 * @example
 * ```ts
 * parseFileList('lib/\nlib/util.py\nmain.py\n')
 * // { directories: ['lib'], files: ['lib/util.py', 'main.py'] }
 * ```
 */
export function parseFileList(body: string | Uint8Array): FileList {
  const text = wireText(body, { what: WHAT, maxBytes: LIMITS.fileListBytes });
  if (typeof text !== 'string') throw new ManifestError(WHAT, [{ path: '', expected: 'text' }]);
  const entries = text.split(/\s+/).filter((entry) => entry !== '');
  if (entries.length > LIMITS.files) {
    throw new ManifestError(WHAT, [{ path: '', expected: `at most ${LIMITS.files} entries` }]);
  }
  const issues: ValidationIssue[] = [];
  const list: FileList = { directories: [], files: [] };
  entries.forEach((entry, index) => {
    const isDirectory = entry.endsWith('/');
    const name = isDirectory ? entry.slice(0, -1) : entry;
    if (!FILENAME_PATTERN.test(name) || name.length > LIMITS.filenameLength) {
      issues.push({ path: `[${index}]`, expected: NAME_RULE });
      return;
    }
    const parent = parentOf(name);
    if (parent !== undefined && !list.directories.includes(parent)) {
      issues.push({
        path: `[${index}]`,
        expected: 'its directory listed before it (e.g. lib/ before lib/x.py)',
      });
      return;
    }
    (isDirectory ? list.directories : list.files).push(name);
  });
  if (issues.length > 0) throw new ManifestError(WHAT, issues);
  return list;
}

/** Writes a file list: directories first (each with a trailing `/`), then files, one per line. */
export function encodeFileList(list: FileList): string {
  const directories = [...list.directories].sort((a, b) => a.split('/').length - b.split('/').length);
  return [...directories.map((dir) => `${dir}/`), ...list.files].map((line) => `${line}\n`).join('');
}
