/**
 * Hooks for a device that keeps its application as one file on disk: fetch the manifest over
 * HTTP, stream the artifact to a staging file while hashing it (MD5 + SHA-256 in one pass),
 * install by atomic rename with a backup, roll back by restoring the backup.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TransportError, type UpdateHooks, type UpdateStatus } from '../../src/index.js';

export interface FileDeviceOptions {
  /** The device's own directory: `app.bin`, `app.bin.previous`, `staging/`, `version`. */
  root: string;
  manifestUrl: string;
  /** Where reported statuses go (the fleet back end). */
  report: (status: UpdateStatus) => Promise<void>;
  /** Make the health check fail, to show a rollback. */
  unhealthy?: boolean;
}

/** Puts a device in its factory state: version `version` installed. */
export async function provision(root: string, version: string, app: Uint8Array): Promise<void> {
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'app.bin'), app);
  await writeFile(join(root, 'version'), version);
}

export async function readVersion(root: string): Promise<string> {
  return (await readFile(join(root, 'version'), 'utf8').catch(() => '0.0.0')).trim();
}

export function fileDeviceHooks(options: FileDeviceOptions): Required<Omit<UpdateHooks, 'verify'>> {
  const { root } = options;
  const app = join(root, 'app.bin');
  const backup = join(root, 'app.bin.previous');
  const staging = join(root, 'staging');
  const versionFile = join(root, 'version');
  const versionBackup = join(root, 'version.previous');

  return {
    async check({ signal, current }) {
      const response = await fetch(options.manifestUrl, { signal });
      if (!response.ok)
        throw new TransportError(`manifest: HTTP ${response.status}`, { status: response.status });
      const manifest = (await response.json()) as { version: string };
      const installed = current?.version ?? (await readVersion(root));
      return manifest.version === installed ? null : (manifest as never);
    },

    async download({ manifest, signal, onProgress }) {
      await mkdir(staging, { recursive: true });
      const total = manifest.artifacts.reduce((sum, artifact) => sum + (artifact.size ?? 0), 0);
      let received = 0;
      const staged = [];
      for (const [index, artifact] of manifest.artifacts.entries()) {
        const response = await fetch(artifact.url, { signal });
        if (!response.ok || response.body === null) {
          throw new TransportError(`artifact ${index}: HTTP ${response.status}`, { status: response.status });
        }
        const md5 = createHash('md5');
        const sha256 = createHash('sha256');
        const location = join(staging, `${manifest.id}-${index}.part`);
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            md5.update(chunk);
            sha256.update(chunk);
            received += chunk.length;
            onProgress({ bytes: received, total, artifact: index });
            callback(null, chunk);
          },
        });
        await pipeline(Readable.fromWeb(response.body as never), hashing, createWriteStream(location), {
          signal,
        });
        staged.push({
          location,
          size: (await stat(location)).size,
          md5: md5.digest('hex'),
          sha256: sha256.digest('hex'),
        });
      }
      return staged;
    },

    async install({ manifest, staged }) {
      // Keep the running version for rollback, then swap the new one in atomically.
      await copyFile(app, backup).catch(ignoreMissing);
      await copyFile(versionFile, versionBackup).catch(ignoreMissing);
      await rename(staged[0]!.location, app);
      await writeFile(`${versionFile}.tmp`, manifest.version);
      await rename(`${versionFile}.tmp`, versionFile);
    },

    async healthCheck() {
      return !options.unhealthy;
    },

    async commit() {
      await rm(backup, { force: true });
      await rm(versionBackup, { force: true });
    },

    async rollback() {
      // Restore what ran before; if nothing did (a first install), remove what was installed.
      await rename(backup, app).catch(async (error) => {
        ignoreMissing(error);
        await rm(app, { force: true });
      });
      await rename(versionBackup, versionFile).catch(async (error) => {
        ignoreMissing(error);
        await rm(versionFile, { force: true });
      });
    },

    report: async ({ status }) => options.report(status),
  };
}

/** A first install has nothing to back up; a rollback after a failed first install has nothing to restore. */
function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
