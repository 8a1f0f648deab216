/**
 * What `ota_update` and `check_for_ota_update` do once the files are fetched (see
 * docs/protocols/micropythonOta.md), as pure decisions a device agent carries out: which
 * directories to create, where each file is staged, what is copied where, when the `version`
 * file is written, and how the device resets. Keeping this I/O-free lets the reference's behaviour be tested without a board.
 *
 * @module
 */
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { DEFAULTS } from './limits.js';
import { FILENAME_PATTERN } from './names.js';

/** How the device restarts after an update. */
export type ResetAction = 'hard' | 'soft' | 'none';

export interface ResetFlags {
  /** `machine.reset()` after a successful update. @default true */
  hardReset?: boolean;
  /** `machine.soft_reset()` instead; takes precedence, because it does not return. @default false */
  softReset?: boolean;
}

/** The reset the reference performs: soft if asked, else hard if asked, else none. */
export function resetAction(flags: ResetFlags = {}): ResetAction {
  if (flags.softReset ?? false) return 'soft';
  return (flags.hardReset ?? true) ? 'hard' : 'none';
}

/**
 * What the periodic `check_for_ota_update` does: reset when the version changed (the download
 * then happens in `boot.py`), nothing otherwise. It never fetches files, and has no option to
 * suppress the reset.
 */
export function periodicCheckAction(
  check: { changed: boolean },
  flags: { softReset?: boolean } = {},
): ResetAction {
  if (!check.changed) return 'none';
  return flags.softReset ? 'soft' : 'hard';
}

/** How a file is written. The reference (v2.1.0) writes `.text` in mode `'w'`, which corrupts `.mpy`. */
export type WriteMode = 'text' | 'binary';

/** One file as the download left it. */
export interface FileOutcome {
  filename: string;
  /** HTTP status of the file's GET. Only 200 counts as found. */
  status: number;
}

export interface StagedFile {
  filename: string;
  /** Where it was downloaded to, e.g. `tmp/main.py`. */
  path: string;
  mode: WriteMode;
}

export interface InstallPlanOptions extends ResetFlags {
  /**
   * Plan what the reference does: only `tmp` is created (so `lib/util.py` fails to open, vector
   * M17) and files are written as text (vector M18). Off: parent directories are created and
   * files are written as bytes, as open PR #20 does.
   * @default false
   */
  strictCompat?: boolean;
}

/** The decision after every file was fetched. */
export type InstallPlan =
  | {
      install: true;
      version: string;
      /** Directories to create first, parents before children. */
      mkdirs: string[];
      staged: StagedFile[];
      /** Copies from the staging directory over the live files, in order. */
      copies: Array<{ from: string; to: string }>;
      /** Written last, after every copy, so a power cut mid-copy leads to a retry. */
      versionFile: { path: string; content: string };
      /** Removed after the copy: staged files, then staging sub-directories (deepest first), then `tmp`. */
      cleanup: string[];
      reset: ResetAction;
    }
  | {
      install: false;
      version: string;
      /** Files whose GET did not answer 200. */
      missing: string[];
      /** Files that were fetched: they stay staged and are overwritten on the next attempt. */
      staged: StagedFile[];
      reset: 'none';
    };

function unsafeName(filename: unknown, index: number): ValidationIssue[] {
  if (typeof filename === 'string' && FILENAME_PATTERN.test(filename)) return [];
  return [
    { path: `files[${index}].filename`, expected: 'a relative file name without empty, . or .. segments' },
  ];
}

function parents(filename: string): string[] {
  const segments = filename.split('/').slice(0, -1);
  return segments.map((_, index) => segments.slice(0, index + 1).join('/'));
}

/**
 * Decides what `ota_update` does after downloading `files` for `version`: install everything,
 * write the version file, reset, or (when any file is missing) install nothing.
 *
 * @throws ManifestError naming each unsafe file name (not in `strictCompat`).
 *
 * @example
 * ```ts
 * installPlan('v1.0.1', [{ filename: 'main.py', status: 200 }, { filename: 'library.py', status: 404 }])
 * // { install: false, missing: ['library.py'], staged: [{ path: 'tmp/main.py', … }], reset: 'none', … }
 * ```
 */
export function installPlan(
  version: string,
  files: readonly FileOutcome[],
  options: InstallPlanOptions = {},
): InstallPlan {
  const staging = DEFAULTS.stagingDir;
  const mode: WriteMode = options.strictCompat ? 'text' : 'binary';
  // A name like ../boot.py would escape the staging directory; refuse to plan with it at all.
  const unsafe = options.strictCompat ? [] : files.flatMap((file, index) => unsafeName(file.filename, index));
  if (unsafe.length > 0) throw new ManifestError('micropython_ota install plan', unsafe);
  const found = files.filter((file) => file.status === 200);
  const staged = found.map((file) => ({
    filename: file.filename,
    path: `${staging}/${file.filename}`,
    mode,
  }));
  if (found.length !== files.length) {
    const missing = files.filter((file) => file.status !== 200).map((file) => file.filename);
    return { install: false, version, missing, staged, reset: 'none' };
  }
  const mkdirs: string[] = [staging];
  if (!options.strictCompat) {
    for (const file of files) {
      for (const dir of parents(file.filename)) {
        for (const path of [`${staging}/${dir}`, dir]) if (!mkdirs.includes(path)) mkdirs.push(path);
      }
    }
  }
  return {
    install: true,
    version,
    mkdirs,
    staged,
    copies: staged.map((file) => ({ from: file.path, to: file.filename })),
    versionFile: { path: DEFAULTS.versionFile, content: version },
    cleanup: [
      ...staged.map((file) => file.path),
      ...mkdirs.filter((dir) => dir.startsWith(`${staging}/`)).reverse(),
      staging,
    ],
    reset: resetAction(options),
  };
}
