/**
 * The download and install steps of the Exosite agent.
 *
 * Download: the preflight (`TEST`, then `TEST_SUCCESS`, or a `CHECK` error that the agent reports as
 * `TEST_ERROR`), then the files (`DOWNLOAD`, one `DOWNLOAD_STEP` per file, `DOWNLOAD_SUCCESS`),
 * through the resumable file download hook. A `JSON` manifest has nothing to fetch: its object is
 * staged from the order itself as `payload.json`.
 *
 * Install: the install directory becomes exactly this OTAU's files (one per payload item, named
 * after its content id or the last segment of its URL) and `.otau.json` (version, name, type, file
 * names), swapped in atomically by the directory installer, the previous version kept until the
 * commit. After a crash the install runs again in full (staging is refilled from the staged
 * downloads, the installer finishes or redoes the swap).
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { abortReason } from '../../core/abort.js';
import { isOtaError, OtaError } from '../../core/errors.js';
import type { UpdateRef } from '../../core/status.js';
import type { DownloadContext, UpdateHooks } from '../../machine/hooks.js';
import type { Artifact, Manifest } from '../../manifest/schema.js';
import { EXTENSION_KEY, type ExositeExtension } from '../../protocols/exosite/codec.js';
import { copyFile } from '../install/copy.js';
import type { DirectoryInstaller } from '../install/directory-installer.js';
import { formatBytes, measureFreeSpace } from '../install/free-space.js';
import { dropStaged } from './drop-staged.js';
import type { StatusWriter } from './exosite-status.js';

/** The file in the install directory that says which OTAU it holds. */
export const RECORD_FILE = '.otau.json';

/** What the preflight gets: the order, and its Exosite fields (`name`, `type`, a `JSON` payload…). */
export interface ExositePreflightContext {
  manifest: Manifest;
  exosite: ExositeExtension | undefined;
  signal: AbortSignal;
}

/**
 * An application check before anything is downloaded (compatibility, battery, a maintenance
 * window…). Throw to refuse the OTAU: the message is sent with `TEST_ERROR`.
 */
export type ExositePreflight = (context: ExositePreflightContext) => void | Promise<void>;

/** The Exosite fields the codec kept in `manifest.extensions.exosite`. */
export function exositeFields(manifest: Manifest): ExositeExtension | undefined {
  return manifest.extensions?.[EXTENSION_KEY] as ExositeExtension | undefined;
}

/** Whether the manifest carries its payload inline (`JSON`): nothing to download. */
export function isInline(manifest: Manifest): boolean {
  return exositeFields(manifest)?.type === 'JSON';
}

function safeName(name: string): string {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {}
  let safe = decoded.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200);
  if (safe === '' || safe.startsWith('.')) safe = `_${safe}`;
  return safe;
}

/**
 * The file names of an OTAU's artifacts in the install directory: the artifact's name (content id
 * or last URL segment) with anything but letters, digits, `.`, `_` and `-` replaced by `_` (no
 * path separators, no hidden files); a name already taken gets its 1-based index in front.
 */
export function fileNames(manifest: Manifest): string[] {
  const used = new Set([RECORD_FILE]);
  return manifest.artifacts.map((artifact, index) => {
    let name = safeName(artifact.name ?? `file-${index + 1}`);
    if (used.has(name)) name = `${index + 1}-${name}`;
    while (used.has(name)) name = `_${name}`;
    used.add(name);
    return name;
  });
}

export interface DownloadStepOptions {
  /** The resumable file download hook. */
  download: UpdateHooks['download'];
  /** Where the statuses go (resolved when the agent exists). */
  writer: () => StatusWriter;
  preflight: ExositePreflight | undefined;
  /** Bytes that must be free in `freeSpaceDirectory` before downloading; `undefined`: no check. */
  minFreeBytes: number | undefined;
  freeSpaceDirectory: string;
}

async function runPreflight(options: DownloadStepOptions, context: DownloadContext): Promise<void> {
  try {
    if (options.minFreeBytes !== undefined) {
      const space = await measureFreeSpace(options.freeSpaceDirectory);
      if (space.availableBytes < options.minFreeBytes) {
        throw new OtaError(
          'CHECK',
          `Not enough space (required: ${formatBytes(options.minFreeBytes)}, available: ${formatBytes(space.availableBytes)}).`,
        );
      }
    }
    await options.preflight?.({
      manifest: context.manifest,
      exosite: exositeFields(context.manifest),
      signal: context.signal,
    });
  } catch (error) {
    if (context.signal.aborted) throw abortReason(context.signal);
    if (isOtaError(error, 'CHECK')) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new OtaError('CHECK', message, { cause: error });
  }
}

/**
 * The download step with Exosite's statuses around it. The preflight and its statuses belong to
 * the first attempt of each run (again after a restart: the device tests again before resuming);
 * the machine's retries only fetch.
 */
export function exositeDownloadStep(options: DownloadStepOptions): UpdateHooks['download'] {
  return async (context) => {
    const { manifest } = context;
    const files = !isInline(manifest);
    const writer = options.writer();
    if (context.attempt === 1) {
      await writer.send(manifest.version, 'TEST');
      await runPreflight(options, context);
      await writer.send(manifest.version, 'TEST_SUCCESS');
      if (files) await writer.send(manifest.version, 'DOWNLOAD');
    }
    const staged = await options.download(context);
    if (files) await writer.send(manifest.version, 'DOWNLOAD_SUCCESS');
    return staged;
  };
}

/**
 * Called by the download hook as it starts each artifact (its `resolveUrl`): sends
 * `DOWNLOAD_STEP` "Downloading file i of n". Queued behind `DOWNLOAD`, ahead of `DOWNLOAD_SUCCESS`.
 */
export function downloadStepReporter(writer: () => StatusWriter) {
  return (artifact: Artifact, manifest: Manifest): void => {
    if (isInline(manifest)) return;
    const index = manifest.artifacts.indexOf(artifact);
    const count = manifest.artifacts.length;
    if (index < 0) return;
    void writer().send(manifest.version, 'DOWNLOAD_STEP', `Downloading file ${index + 1} of ${count}`);
  };
}

interface OtauRecord {
  version: string;
  name?: string;
  type?: string;
  files: string[];
}

/** The version recorded in `directory`'s `.otau.json`, or `undefined`. */
export async function installedVersion(directory: string): Promise<string | undefined> {
  try {
    const record = JSON.parse(await readFile(join(directory, RECORD_FILE), 'utf8')) as Partial<OtauRecord>;
    return typeof record.version === 'string' && record.version !== '' ? record.version : undefined;
  } catch {
    return undefined;
  }
}

export interface InstallHooksOptions {
  installer: DirectoryInstaller;
  fsync: boolean;
  /** The version before otakit's first update, adopted when nothing says otherwise. */
  currentVersion: string | undefined;
}

type InstallHooks = Required<Pick<UpdateHooks, 'install' | 'commit' | 'rollback' | 'recover'>>;

export function exositeInstallHooks(options: InstallHooksOptions): InstallHooks {
  const { installer, fsync } = options;
  return {
    install: async ({ manifest, staged, signal }) => {
      const names = fileNames(manifest);
      const staging = await installer.prepareStaging();
      for (const [index, artifact] of staged.entries()) {
        // Copied, not moved: a crash before the commit runs this again from the staged files.
        await copyFile(artifact.location, join(staging, names[index]!), { mode: 0o644, fsync, signal });
      }
      const fields = exositeFields(manifest);
      const record: OtauRecord = {
        version: manifest.version,
        ...(fields?.name === undefined ? {} : { name: fields.name }),
        ...(fields?.type === undefined ? {} : { type: fields.type }),
        files: names,
      };
      await writeFile(join(staging, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
      await installer.install(staging, { signal });
    },
    commit: async ({ staged }) => {
      await installer.commit();
      await dropStaged(staged);
    },
    rollback: async ({ staged }) => {
      await installer.rollback();
      await dropStaged(staged ?? null);
    },
    // A first start, or a lost store: undo an install nobody can vouch for, then adopt what the
    // directory says it holds (or the version the application says the device shipped with).
    recover: async (): Promise<UpdateRef | null> => {
      await installer.recover();
      const version = (await installedVersion(installer.target)) ?? options.currentVersion;
      return version === undefined ? null : { id: version, version };
    },
  };
}
