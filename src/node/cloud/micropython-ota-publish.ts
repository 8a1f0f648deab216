/**
 * Publishing micropython_ota releases into a server root (docs/cloud/micropython-ota.md).
 *
 * The project's `version` file is the order every device polls; a device that reads a tag
 * fetches that tag's files at once. So a release is laid out in two phases:
 *
 * 1. the files, each written to a temporary dot file, fsynced and renamed into place, then the
 *    release's file list (`<version>_manifest` or `<version>/manifest`, the format of the
 *    reference's open PR #20), and every directory fsynced;
 * 2. only then the `version` file, by the same temporary file and rename, so a device reads the
 *    old tag or the new one, never a tag whose files are missing. A crash between the phases
 *    leaves the old release live.
 *
 * A rollback is a publish of an older tag: its files are still there (`activateRelease`) or laid
 * out again (`publishRelease`). The files of a tag never change once published (a device that
 * installed a tag never fetches it again, so changed bytes would split the fleet), unless
 * `replace` says so for a tag that is not live.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { ManifestError, OtaError } from '../../core/errors.js';
import { type Manifest, type ManifestInput, parseManifest } from '../../manifest/schema.js';
import { encodeFileList, parseFileList } from '../../protocols/micropython-ota/file-list.js';
import { DEFAULTS } from '../../protocols/micropython-ota/limits.js';
import { isVersionTag } from '../../protocols/micropython-ota/names.js';
import type { Layout } from '../../protocols/micropython-ota/urls.js';
import { STATEMENT_SUFFIX } from '../../protocols/micropython-ota/urls.js';
import { readLocalVersion } from '../../protocols/micropython-ota/version-file.js';
import { encodeStatement } from '../../protocols/signed-statement.js';
import { errorCode, fsyncDirectories, fsyncDirectory, lstatOrNull } from '../install/durable-fs.js';
import {
  checkFilenames,
  checkRelease,
  projectDirectory,
  releaseFilePath,
} from './micropython-ota-release-paths.js';

const WHAT = 'micropython_ota release';

/** A step of a publish, in order, for logs and tests. */
export type PublishStep = 'file' | 'file-list' | 'synced' | 'version';

export interface PublishReleaseOptions {
  /** The server root (the directory `createMicropythonOtaHandler` serves). */
  root: string;
  /** The project path, e.g. `sample` or `fleet/sample`. */
  project: string;
  /** The tag, e.g. `v1.0.1`. */
  version: string;
  /**
   * The files, by the name the devices know them (`main.py`, `lib/util.py`): the path of a
   * file to copy, or its bytes.
   */
  files: Readonly<Record<string, string | Uint8Array>>;
  /** @default 'prefix' (`<version>_<file>`; the reference's `use_version_prefix=True`) */
  layout?: Layout;
  /** Write the `version` file at the end. `false` lays the release out without offering it. @default true */
  activate?: boolean;
  /** Allow other bytes under a tag already published, unless that tag is live. @default false */
  replace?: boolean;
  /** fsync files and directories. Off only for tests on throw-away directories. @default true */
  fsync?: boolean;
  /** Called after each step (`file` once per file); a throw aborts the publish there. */
  onStep?: (step: PublishStep) => void;
  /**
   * The release's signed manifest (id `<project>@<version>`, its artifacts the URLs devices
   * fetch, signed for `otakit-json-v1`): written as `<project>/<version>.otakit.json` (its signed
   * statement) with the files, before the `version` file, for otakit devices to fetch and check
   * before any download. The reference never asks for it.
   * @default none: the release is unsigned
   */
  manifest?: Manifest | ManifestInput;
}

/** A release as it lies in the root. */
export interface ReleaseInfo {
  version: string;
  layout: Layout;
  /** The file names, as the devices know them. */
  files: string[];
  /** When its file list was written. */
  publishedAt: Date;
}

export interface PublishedRelease {
  project: string;
  version: string;
  layout: Layout;
  files: string[];
  /** Whether the `version` file now names it. */
  live: boolean;
}

function sha256Of(source: string | Uint8Array): Promise<string> {
  if (typeof source !== 'string') return Promise.resolve(createHash('sha256').update(source).digest('hex'));
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(source)
      .on('error', fail)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => done(hash.digest('hex')));
  });
}

/** Writes `content` (or a copy of the file at `content`) to `path` by a temporary dot file and a rename. */
async function writeReplacing(
  path: string,
  content: string | Uint8Array,
  sync: boolean,
  copy: boolean,
): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomUUID()}.tmp`);
  try {
    if (copy) await copyFile(content as string, temporary);
    else await writeFile(temporary, content);
    if (sync) {
      const handle = await open(temporary, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    // rename() replaces the name: a symlink at `path` is replaced, never followed.
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The tag the project's `version` file names, or `null` when there is none. */
export async function liveVersion(options: { root: string; project: string }): Promise<string | null> {
  checkRelease({ project: options.project, version: 'v' });
  const path = join(projectDirectory(resolve(options.root), options.project), DEFAULTS.versionFile);
  try {
    const tag = readLocalVersion(await readFile(path));
    return tag === '' ? null : tag;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

/** Every directory from `path`'s up to `stop` (included), to fsync after creating or renaming in them. */
function directoriesUpTo(path: string, stop: string): string[] {
  const directories: string[] = [];
  for (let directory = dirname(path); ; directory = dirname(directory)) {
    directories.push(directory);
    if (directory === stop || relative(stop, directory).startsWith('..') || directory === dirname(directory))
      break;
  }
  return directories;
}

async function writeVersion(projectDir: string, version: string, sync: boolean): Promise<void> {
  await writeReplacing(join(projectDir, DEFAULTS.versionFile), `${version}\n`, sync, false);
  if (sync) await fsyncDirectory(projectDir);
}

/**
 * Lays a release out under `<root>/<project>/` and, unless `activate: false`, makes it the one
 * devices install by writing the `version` file last.
 *
 * @throws ManifestError naming the field (`project`, `version`, `layout`, `files[1]`, never a
 *   file's content) when a name is invalid, or a file differs from the one already published
 *   under that tag; OtaError `CONFIG` when a source file cannot be read (its name by index).
 */
export async function publishRelease(options: PublishReleaseOptions): Promise<PublishedRelease> {
  const { project, version } = options;
  const layout = options.layout ?? 'prefix';
  checkRelease({ project, version, layout });
  if (typeof options.files !== 'object' || options.files === null) {
    throw new ManifestError(WHAT, [
      { path: 'files', expected: 'an object of file name → source path or bytes' },
    ]);
  }
  const entries = Object.entries(options.files);
  const names = entries.map(([name]) => name);
  checkFilenames(names);
  const root = resolve(options.root);
  const sync = options.fsync ?? true;
  const live = await liveVersion({ root, project });
  const statement =
    options.manifest === undefined ? undefined : statementOf(options.manifest, project, version);

  // Check every source, and every file already under this tag, before writing anything.
  const planned: Array<{ name: string; source: string | Uint8Array; path: string; same: boolean }> = [];
  for (const [index, [name, source]] of entries.entries()) {
    if (typeof source === 'string') {
      const stats = await stat(source).catch(() => null);
      if (stats === null || !stats.isFile()) {
        throw new OtaError('CONFIG', `files[${index}]: expected the path of a readable file, or its bytes`);
      }
    } else if (!(source instanceof Uint8Array)) {
      throw new ManifestError(WHAT, [
        { path: `files[${index}]`, expected: 'a source path or bytes (Uint8Array)' },
      ]);
    }
    const path = releaseFilePath(root, project, version, name, layout);
    const existing = await lstatOrNull(path);
    let same = false;
    if (existing !== null) {
      same = existing.isFile() && (await sha256Of(path)) === (await sha256Of(source));
      if (!same && (!(options.replace ?? false) || version === live)) {
        throw new ManifestError(WHAT, [
          {
            path: `files[${index}]`,
            expected:
              version === live
                ? 'the bytes already published under this tag (it is live: publish a new tag)'
                : 'the bytes already published under this tag (publish a new tag, or pass replace: true)',
          },
        ]);
      }
    }
    planned.push({ name, source, path, same });
  }

  const touched: string[] = [];
  for (const file of planned) {
    if (!file.same) {
      await mkdir(dirname(file.path), { recursive: true });
      await writeReplacing(file.path, file.source, sync, typeof file.source === 'string');
      touched.push(...directoriesUpTo(file.path, root));
    }
    options.onStep?.('file');
  }
  const directories = [...new Set(names.flatMap((name) => parentsOf(name)))];
  const listPath = releaseFilePath(root, project, version, DEFAULTS.fileList, layout);
  await mkdir(dirname(listPath), { recursive: true });
  await writeReplacing(listPath, encodeFileList({ directories, files: names }), sync, false);
  touched.push(...directoriesUpTo(listPath, root));
  if (statement !== undefined) {
    const statementPath = join(projectDirectory(root, project), `${version}${STATEMENT_SUFFIX}`);
    await writeReplacing(statementPath, statement, sync, false);
    touched.push(...directoriesUpTo(statementPath, root));
  }
  options.onStep?.('file-list');
  if (sync) await fsyncDirectories(touched);
  options.onStep?.('synced');

  const activate = options.activate ?? true;
  if (activate) {
    await writeVersion(projectDirectory(root, project), version, sync);
    options.onStep?.('version');
  }
  return { project, version, layout, files: names, live: activate || live === version };
}

/** The signed statement of a release's manifest, checked to be this release's. */
function statementOf(manifest: Manifest | ManifestInput, project: string, version: string): string {
  const valid = parseManifest(manifest);
  const issues = [];
  if (valid.signature === undefined)
    issues.push({ path: 'manifest.signature', expected: 'a signed manifest' });
  if (valid.version !== version) issues.push({ path: 'manifest.version', expected: 'the release tag' });
  if (valid.id !== `${project}@${version}`)
    issues.push({ path: 'manifest.id', expected: '<project>@<version>' });
  if (issues.length > 0) throw new ManifestError(WHAT, issues);
  return encodeStatement(valid)!;
}

/** `lib/sub/x.py` → `['lib', 'lib/sub']`. */
function parentsOf(name: string): string[] {
  const segments = name.split('/').slice(0, -1);
  return segments.map((_, index) => segments.slice(0, index + 1).join('/'));
}

async function readRelease(
  root: string,
  project: string,
  version: string,
  layout: Layout,
): Promise<ReleaseInfo | null> {
  const listPath = releaseFilePath(root, project, version, DEFAULTS.fileList, layout);
  const stats = await lstatOrNull(listPath);
  if (stats === null || !stats.isFile()) return null;
  const list = parseFileList(await readFile(listPath));
  return { version, layout, files: list.files, publishedAt: stats.mtime };
}

/**
 * The releases of a project published by `publishRelease` (those with a file list), oldest
 * first, and the tag the `version` file names (`live`, which may be a release laid out by hand).
 */
export async function listReleases(options: {
  root: string;
  project: string;
}): Promise<{ live: string | null; releases: ReleaseInfo[] }> {
  const root = resolve(options.root);
  const live = await liveVersion({ root, project: options.project });
  const directory = projectDirectory(root, options.project);
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { live, releases: [] };
    throw error;
  }
  const suffix = `_${DEFAULTS.fileList}`;
  const releases: ReleaseInfo[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    let found: ReleaseInfo | null = null;
    if (entry.isFile() && entry.name.endsWith(suffix)) {
      const tag = entry.name.slice(0, -suffix.length);
      if (isVersionTag(tag)) found = await readRelease(root, options.project, tag, 'prefix');
    } else if (entry.isDirectory() && isVersionTag(entry.name)) {
      found = await readRelease(root, options.project, entry.name, 'subdirectory');
    }
    if (found !== null) releases.push(found);
  }
  releases.sort(
    (a, b) => a.publishedAt.getTime() - b.publishedAt.getTime() || a.version.localeCompare(b.version),
  );
  return { live, releases };
}

/**
 * Makes a release published earlier live again (a rollback, or a release laid out with
 * `activate: false`): checks that every file of its file list is in place, then writes the
 * `version` file.
 *
 * @throws ManifestError (path `version`) when the tag has no file list in the root, or (path
 *   `files[i]`) when one of its files is missing.
 */
export async function activateRelease(options: {
  root: string;
  project: string;
  version: string;
  /** Which layout's copy to check when the tag is laid out in both. @default the prefix one, else the other */
  layout?: Layout;
  fsync?: boolean;
}): Promise<PublishedRelease> {
  const { project, version } = options;
  checkRelease({ project, version, layout: options.layout });
  const root = resolve(options.root);
  const layouts: Layout[] = options.layout === undefined ? ['prefix', 'subdirectory'] : [options.layout];
  let release: ReleaseInfo | null = null;
  for (const layout of layouts) {
    release = await readRelease(root, project, version, layout);
    if (release !== null) break;
  }
  if (release === null) {
    throw new ManifestError(WHAT, [
      { path: 'version', expected: 'a tag published in this root (it has no file list)' },
    ]);
  }
  const found = release;
  for (const [index, name] of found.files.entries()) {
    const stats = await lstatOrNull(releaseFilePath(root, project, version, name, found.layout));
    if (stats === null || !stats.isFile()) {
      throw new ManifestError(WHAT, [
        { path: `files[${index}]`, expected: 'a file in place (it is missing)' },
      ]);
    }
  }
  await writeVersion(projectDirectory(root, project), version, options.fsync ?? true);
  return { project, version, layout: found.layout, files: found.files, live: true };
}

/**
 * Withdraws the project's offer: deletes its `version` file, so devices read a 404 ("no
 * update") and keep what they run. The releases stay; `activateRelease` offers one again.
 */
export async function withdrawRelease(options: {
  root: string;
  project: string;
  fsync?: boolean;
}): Promise<void> {
  checkRelease({ project: options.project, version: 'v' });
  const directory = projectDirectory(resolve(options.root), options.project);
  await rm(join(directory, DEFAULTS.versionFile), { force: true });
  if (options.fsync ?? true) await fsyncDirectory(directory).catch(() => {});
}
