/**
 * The Connhex agent's install side: the release `.zip` is checked and extracted into the
 * directory installer's staging folder, swapped into `<install dir>/.store/ota/current` (the
 * previous release kept for rollback), and its `update.sh` run there when the application opted
 * in. Also the gate that holds a downloaded release at `update_ready` while `auto_install` is off.
 *
 * @module
 */
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { abortReason } from '../../core/abort.js';
import { InstallError } from '../../core/errors.js';
import type { UpdateRef } from '../../core/status.js';
import type { UpdateHooks } from '../../machine/hooks.js';
import { verifyStaged } from '../../machine/verify-staged.js';
import type { Manifest } from '../../manifest/schema.js';
import { checkPackageEntries } from '../../protocols/connhex/package.js';
import { extractArchive } from '../archive/extract.js';
import type { ArchiveLimits } from '../archive/limits.js';
import type { DirectoryInstaller } from '../install/directory-installer.js';
import { type RunUpdateScriptOptions, runUpdateScript } from '../install/run-script.js';

/**
 * Holds a verified download until the application lets it install (`auto_install = false`).
 * The wait lives in the machine's verify step, whose state (`verifying`) has no Connhex word,
 * so the device keeps saying `update_ready`; a restart resumes into the same wait.
 */
export class InstallGate {
  /** Versions allowed to install without waiting (by `install()`, before or during the wait). */
  readonly #allowed = new Set<string>();
  #waiting: { manifest: Manifest; open: () => void } | undefined;

  /** The release waiting for `open()`, or `null`. */
  get waiting(): Manifest | null {
    return this.#waiting?.manifest ?? null;
  }

  /** Lets `version` install: now if it waits, or as soon as it is downloaded. */
  allow(version: string): boolean {
    this.#allowed.add(version);
    const waiting = this.#waiting;
    if (waiting?.manifest.version !== version) return false;
    waiting.open();
    return true;
  }

  /** Resolves once `manifest` may install; rejects with the signal's reason when canceled. */
  async pass(manifest: Manifest, signal: AbortSignal): Promise<void> {
    if (this.#allowed.delete(manifest.version)) return;
    signal.throwIfAborted();
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiting = {
          manifest,
          open: () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          },
        };
      });
    } finally {
      this.#waiting = undefined;
      this.#allowed.delete(manifest.version);
    }
  }
}

export interface ConnhexInstallOptions {
  installer: DirectoryInstaller;
  /** `false`: never run `update.sh`; `true` or options: run it in the extracted folder. */
  script: false | RunUpdateScriptOptions;
  /** Hold each download at `update_ready` until `gate` lets it through. */
  gate: InstallGate | undefined;
  limits: Partial<ArchiveLimits> | undefined;
  allowUnverified: boolean;
  /** The application's own verify step, run before the gate (default: the machine's digest check). */
  verify: UpdateHooks['verify'];
  /** The version a device runs before otakit's first update, adopted when the store is empty. */
  currentVersion: string | undefined;
}

/** `verify`, `install`, `commit`, `rollback` and `recover` for the machine. */
export function connhexInstallHooks(
  options: ConnhexInstallOptions,
): Required<Pick<UpdateHooks, 'verify' | 'install' | 'commit' | 'rollback' | 'recover'>> {
  const { installer, gate } = options;
  return {
    verify: async (context) => {
      if (options.verify === undefined) {
        verifyStaged(context.manifest, context.staged, { allowUnverified: options.allowUnverified });
      } else if ((await options.verify(context)) === false) {
        return false;
      }
      if (gate !== undefined) await gate.pass(context.manifest, context.signal);
      return true;
    },
    install: async ({ staged, signal }) => {
      const zip = staged[0]?.location;
      if (zip === undefined) throw new InstallError('Connhex release: nothing was downloaded');
      const staging = await installer.prepareStaging();
      const extracted = await extractArchive(zip, staging, {
        format: 'zip',
        signal,
        ...(options.limits === undefined ? {} : { limits: options.limits }),
      });
      // update.sh at the root, or the release is refused before anything is replaced (C10).
      checkPackageEntries(
        extracted.entries.map((entry) => ({
          name: entry.type === 'directory' ? `${entry.path}/` : entry.path,
          size: entry.size,
        })),
      );
      await installer.install(staging, { signal });
      if (options.script !== false) await runUpdateScript(installer.target, { ...options.script, signal });
    },
    commit: async ({ staged }) => {
      await installer.commit();
      // The release is in place: its download is no longer needed (a failed one is kept for the retry).
      const zip = staged[0]?.location;
      if (zip !== undefined) await rm(dirname(zip), { recursive: true, force: true });
    },
    rollback: () => installer.rollback(),
    recover: async (): Promise<UpdateRef | null> => {
      await installer.recover();
      const version = options.currentVersion;
      return version === undefined ? null : { id: version, version };
    },
  };
}
