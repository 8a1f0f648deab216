/**
 * A ready `download` hook for the update machine: each artifact streams into a file under a
 * staging directory, hashed with node:crypto while it streams, resumable across restarts (the
 * server's validators are saved as the machine's checkpoint, the partial file is the rest).
 *
 * @module
 */
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { serializeByKey } from '../core/serialize.js';
import type { JsonValue } from '../core/store.js';
import type { DownloadContext, UpdateHooks } from '../machine/hooks.js';
import type { StagedArtifactInput } from '../machine/record.js';
import type { HashFactory } from '../manifest/hash.js';
import type { Artifact, Manifest } from '../manifest/schema.js';
import type { DownloadAuth } from '../transport/auth.js';
import { type DownloadOptions, downloadArtifact, type ResumeValidators } from '../transport/download.js';
import { FileSink } from './file-sink.js';
import { createNodeHash } from './hash.js';
import { ensureFreeSpace } from './install/free-space.js';
import { nodeFetch } from './node-fetch.js';

export interface FileDownloadHookOptions
  extends Pick<
    DownloadOptions,
    | 'maxBytes'
    | 'retry'
    | 'maxRetryAfterMs'
    | 'headersTimeoutMs'
    | 'lowSpeed'
    | 'maxRedirects'
    | 'headers'
    | 'fetch'
    | 'clock'
    | 'logger'
  > {
  /**
   * Where staged files go. Put it on the same file system as the install target so the install
   * can be an atomic rename.
   */
  directory: string;
  /** Credentials for artifact requests. */
  auth?: DownloadAuth | ((artifact: Artifact, manifest: Manifest) => DownloadAuth | undefined);
  /** Maps an artifact to the URL to fetch (e.g. relative Exosite content paths). @default artifact.url */
  resolveUrl?: (artifact: Artifact, manifest: Manifest) => string;
  /**
   * Bytes that must stay free in `directory` after the download. When every artifact states its
   * size, the free space is checked before the first byte (a `DOWNLOAD` error naming needed and
   * available bytes); `false` skips the check.
   * @default 1048576
   */
  reserveBytes?: number | false;
  /** Called before the first byte with the bytes still to fetch; throw to refuse the download. */
  beforeDownload?: (bytesNeeded: number, manifest: Manifest) => void | Promise<void>;
  /** fsync each staged file when complete. @default true */
  fsync?: boolean;
  /**
   * Hashing. The default hashes on the main thread (leanest memory); `createWorkerHash` runs MD5
   * and SHA-256 in worker threads beside the download (faster on multi-core machines, ~130 MB more
   * resident memory).
   * @default createNodeHash
   */
  hashFactory?: HashFactory;
  /**
   * Stage inline `data:` artifacts (content carried in the order itself, as Exosite JSON-type
   * manifests do) without a request; they are hashed and size-checked like downloads.
   * @default true
   */
  inline?: boolean;
}

interface DownloadCheckpoint {
  format: 'otakit.download/1';
  validators: (ResumeValidators | null)[];
}

function readCheckpoint(value: JsonValue | null, count: number): DownloadCheckpoint {
  const candidate = value as Partial<DownloadCheckpoint> | null;
  if (candidate?.format === 'otakit.download/1' && Array.isArray(candidate.validators)) {
    return { format: 'otakit.download/1', validators: candidate.validators.slice(0, count) };
  }
  return { format: 'otakit.download/1', validators: [] };
}

/** The folder of `manifest`'s staged artifacts. */
function stagedFolder(directory: string, manifest: Pick<Manifest, 'id'>): string {
  return join(directory, encodeURIComponent(manifest.id));
}

/** Where artifact `index` of `manifest` is staged. */
export function stagedPath(directory: string, manifest: Pick<Manifest, 'id'>, index: number): string {
  return join(stagedFolder(directory, manifest), `${index}.part`);
}

/**
 * Downloads of the same update into the same directory run one after another: an attempt the
 * machine abandoned at its deadline may still be flushing into the staged file when the retry
 * starts, and two writers on one file would corrupt it. One queue for every download hook, since
 * they stage to the same paths.
 */
const perStagedFolder = serializeByKey();

/**
 * Runs one download attempt of `manifest` into `directory`, after any earlier attempt there has
 * ended. When it fails having kept nothing (bytes that failed their check are deleted), its
 * update's folder goes too, so a refused download leaves nothing staged. A partial worth resuming
 * keeps the folder: `rmdir` only removes an empty one.
 */
export function stagedAttempt<T>(
  directory: string,
  manifest: Pick<Manifest, 'id'>,
  attempt: () => Promise<T>,
): Promise<T> {
  const folder = stagedFolder(directory, manifest);
  return perStagedFolder(folder, async () => {
    try {
      return await attempt();
    } catch (error) {
      await rmdir(folder).catch(() => {});
      throw error;
    }
  });
}

const PART_FILE = /^\d+\.part$/;

/**
 * Bounds staging to one update: a partial of the update under way is kept (the next attempt
 * resumes from it), but what other updates left behind (a download that failed for good, an
 * order replaced before it finished) is removed when a new update starts. Only directories
 * holding nothing but otakit's `<n>.part` files are touched, so a staging directory shared with
 * something else loses nothing of it.
 */
async function removeOtherUpdates(directory: string, manifest: Pick<Manifest, 'id'>): Promise<void> {
  const current = encodeURIComponent(manifest.id);
  const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name === current) continue;
    const path = join(directory, entry.name);
    const files = await readdir(path, { withFileTypes: true }).catch(() => null);
    if (files === null || !files.every((file) => file.isFile() && PART_FILE.test(file.name))) continue;
    await rm(path, { recursive: true, force: true });
  }
}

/**
 * @example
 * ```ts
 * const machine = createUpdateMachine({
 *   id: 'gw-7',
 *   store: new FileStore('/var/lib/agent/state'),
 *   hooks: { download: createFileDownloadHook({ directory: '/var/lib/agent/staging' }), install },
 * })
 * ```
 */
export function createFileDownloadHook(options: FileDownloadHookOptions): UpdateHooks['download'] {
  // What passes straight through to every downloadArtifact call.
  const {
    auth: _auth,
    resolveUrl: _resolve,
    beforeDownload: _before,
    reserveBytes: _reserve,
    directory: _directory,
    fsync: _fsync,
    ...shared
  } = options;
  return (context: DownloadContext) =>
    stagedAttempt(options.directory, context.manifest, () => download(context));

  async function download(context: DownloadContext): Promise<StagedArtifactInput[]> {
    const { manifest } = context;
    await removeOtherUpdates(options.directory, manifest);
    const checkpoint = readCheckpoint(context.checkpoint, manifest.artifacts.length);
    const sinks = manifest.artifacts.map(
      (_, index) =>
        new FileSink(stagedPath(options.directory, manifest, index), { fsync: options.fsync ?? true }),
    );
    const sizes = manifest.artifacts.map((artifact) => artifact.size);
    const total = sizes.every((size) => size !== undefined)
      ? sizes.reduce((sum, size) => sum + size, 0)
      : null;
    if (total !== null) {
      let held = 0;
      for (const sink of sinks) held += await sink.length();
      const needed = Math.max(0, total - held);
      if (options.reserveBytes !== false) {
        await ensureFreeSpace(options.directory, needed, {
          reserveBytes: options.reserveBytes ?? 1_048_576,
          signal: context.signal,
        });
      }
      await options.beforeDownload?.(needed, manifest);
    }
    const staged: StagedArtifactInput[] = [];
    let completed = 0;
    for (const [index, artifact] of manifest.artifacts.entries()) {
      const sink = sinks[index]!;
      const auth = typeof options.auth === 'function' ? options.auth(artifact, manifest) : options.auth;
      const validators = checkpoint.validators[index] ?? undefined;
      const result = await downloadArtifact({
        fetch: nodeFetch,
        ...shared,
        url: options.resolveUrl?.(artifact, manifest) ?? artifact.url,
        sink,
        expected: {
          ...(artifact.size === undefined ? {} : { size: artifact.size }),
          ...(artifact.md5 === undefined ? {} : { md5: artifact.md5 }),
          ...(artifact.sha256 === undefined ? {} : { sha256: artifact.sha256 }),
        },
        hashes: ['md5', 'sha256'],
        // Inline content comes with the order itself (Exosite JSON manifests): no fetch, same checks.
        inline: options.inline ?? true,
        hashFactory: options.hashFactory ?? createNodeHash,
        resume: context.resume,
        ...(auth === undefined ? {} : { auth }),
        ...(validators ? { validators } : {}),
        onValidators: async (next) => {
          checkpoint.validators[index] = next;
          await context.saveCheckpoint(checkpoint as unknown as JsonValue);
        },
        signal: context.signal,
        onProgress: ({ bytes }) => context.onProgress({ bytes: completed + bytes, total, artifact: index }),
      });
      completed += result.size;
      staged.push({
        location: sink.path,
        size: result.size,
        ...(result.md5 === undefined ? {} : { md5: result.md5 }),
        ...(result.sha256 === undefined ? {} : { sha256: result.sha256 }),
      });
    }
    return staged;
  }
}
