/**
 * The files a Degu agent updates (`main.py`, `CONFIG`, the firmware image): their MD5s, which
 * are all a Degu ever reports, and one atomic installer per file. The MD5s are read from disk,
 * never remembered from an order: what the device runs is what is on its disk.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { IntegrityError, ManifestError } from '../../core/errors.js';
import type { UpdateRef } from '../../core/status.js';
import { DEGU_ITEMS, type DeguItem, MISSING_FILE_MD5, verKey } from '../../protocols/degu/schemas.js';
import { createFileInstaller } from '../install/file-installer.js';
import type { Installer, InstallStep } from '../install/types.js';

/** Local paths of what the agent updates; an item without a path is never updated. */
export interface DeguAgentFiles {
  /** The user script (`main.py`; `script_user` in the shadow). */
  script?: string;
  /** The configuration file (`CONFIG`; `config_user`). */
  config?: string;
  /** The firmware image (`degu.bin`; `firmware_system`). */
  firmware?: string;
}

const FILE_KEY: Record<DeguItem, keyof DeguAgentFiles> = {
  script_user: 'script',
  config_user: 'config',
  firmware_system: 'firmware',
};

/**
 * Stands for a missing file in the order id the decision compares against: never an MD5 anyone
 * orders (the MD5 of a file of 2^128 candidates), and the decision needs a 32-hex value where the
 * sensor would say `none`.
 */
const MISSING_FILE_STAND_IN = '0'.repeat(32);

/** MD5 of a file as a `*_ver` value: lowercase hex, or `none` when it does not exist. */
export async function fileMd5Ver(path: string): Promise<string> {
  const hash = createHash('md5');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return MISSING_FILE_MD5;
    throw error;
  }
  return hash.digest('hex');
}

export interface DeguFileSetOptions {
  files: DeguAgentFiles;
  fsync: boolean;
  onInstallStep?: ((item: DeguItem, step: InstallStep) => void | Promise<void>) | undefined;
}

/** The configured files, their MD5s as last read, and their installers. */
export class DeguFileSet {
  /** The items that have a path, in install order. */
  readonly items: readonly DeguItem[];
  readonly #paths: Partial<Record<DeguItem, string>> = {};
  readonly #installers: Partial<Record<DeguItem, Installer>> = {};
  #md5: Partial<Record<DeguItem, string>> = {};

  constructor(options: DeguFileSetOptions) {
    const files = options.files as DeguAgentFiles | undefined;
    const items: DeguItem[] = [];
    for (const item of DEGU_ITEMS) {
      const path = files?.[FILE_KEY[item]];
      if (path === undefined) continue;
      if (typeof path !== 'string' || path === '') {
        throw new ManifestError('Degu agent options', [
          { path: `files.${FILE_KEY[item]}`, expected: 'the path of a file' },
        ]);
      }
      items.push(item);
      this.#paths[item] = path;
      const onStep = options.onInstallStep;
      this.#installers[item] = createFileInstaller({
        target: path,
        fsync: options.fsync,
        ...(onStep === undefined ? {} : { onStep: (step: InstallStep) => onStep(item, step) }),
      });
    }
    if (items.length === 0) {
      throw new ManifestError('Degu agent options', [
        { path: 'files', expected: 'the path of at least one of script, config, firmware' },
      ]);
    }
    this.items = items;
  }

  /** Reads every file's MD5 again. */
  async refresh(): Promise<void> {
    const md5: Partial<Record<DeguItem, string>> = {};
    for (const item of this.items) md5[item] = await fileMd5Ver(this.#paths[item]!);
    this.#md5 = md5;
  }

  /** The `*_ver` values as last read (`none` for a missing file), for `reported`. */
  reported(): { [key: string]: string } {
    const reported: { [key: string]: string } = {};
    for (const item of this.items) reported[verKey(item)] = this.#md5[item] ?? MISSING_FILE_MD5;
    return reported;
  }

  /** The MD5 of `item` as last read; `undefined` when the item has no path. */
  md5(item: DeguItem): string | undefined {
    return this.#md5[item];
  }

  /**
   * What the device runs, as the update reference the Degu decision compares an order with
   * (`degu:<item>=<md5>,…`): the files on disk win over a `reported` section that may be old.
   */
  asCurrent(): UpdateRef | null {
    const entries = this.items.map((item) => {
      const md5 = this.#md5[item];
      return `${item}=${md5 === undefined || md5 === MISSING_FILE_MD5 ? MISSING_FILE_STAND_IN : md5}`;
    });
    return { id: `degu:${entries.join(',')}`, version: 'local-files' };
  }

  /** The installer of `item`, or `undefined` when the item has no path. */
  installer(item: DeguItem): Installer | undefined {
    return this.#installers[item];
  }

  /** Every installer, in install order. */
  installers(): Installer[] {
    return this.items.map((item) => this.#installers[item]!);
  }
}

/**
 * Hashes a staged file again from disk before it is installed: the download measured the bytes
 * as they streamed, this checks the bytes that will be copied (a resumed download's first part
 * came from an earlier process).
 */
export async function checkStagedMd5(label: string, path: string, expected: string): Promise<void> {
  const actual = await fileMd5Ver(path);
  if (actual !== expected.toLowerCase()) {
    throw new IntegrityError(label, { algorithm: 'md5', expected: expected.toLowerCase(), actual });
  }
}
