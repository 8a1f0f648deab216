/**
 * A `download` hook that fetches the package over MQTT in chunks (ThingsBoard's
 * `v2/fw/request/<id>/chunk/<n>`) into a file under a staging directory, hashed with node:crypto
 * as it arrives. After a restart it resumes from the bytes already on disk: the file is the
 * checkpoint (the chunk size is saved too, for the record).
 *
 * @module
 */
import type { Clock } from '../core/clock.js';
import { OtaError } from '../core/errors.js';
import type { RetryPolicy } from '../core/retry.js';
import type { JsonValue } from '../core/store.js';
import type { DownloadContext, UpdateHooks } from '../machine/hooks.js';
import type { StagedArtifactInput } from '../machine/record.js';
import type { HashFactory } from '../manifest/hash.js';
import { type ChunkTopics, downloadMqttChunks } from '../transport/mqtt-chunks.js';
import type { MqttConnection } from '../transport/mqtt-connection.js';
import { stagedAttempt, stagedPath } from './download-hook.js';
import { FileSink } from './file-sink.js';
import { createNodeHash } from './hash.js';
import { ensureFreeSpace } from './install/free-space.js';

export interface MqttChunkDownloadHookOptions {
  /** The device's connection. Stays the caller's. */
  connection: MqttConnection;
  /** Where staged files go: the file system of the install target, so installs are renames. */
  directory: string;
  /** @default mqttChunkTopics('v2/fw') (ThingsBoard firmware) */
  topics?: ChunkTopics;
  /** @default 16384 */
  chunkSize?: number;
  /** @default 10000 */
  chunkTimeoutMs?: number;
  /** Attempts per chunk. @default { attempts: 5, baseDelayMs: 500, maxDelayMs: 10000 } */
  retry?: Partial<RetryPolicy>;
  /** Largest package accepted when the manifest states no size. @default 2147483648 */
  maxBytes?: number;
  /**
   * Bytes that must stay free in `directory` after the download, checked before the first chunk
   * when the size is known; `false` skips the check.
   * @default 1048576
   */
  reserveBytes?: number | false;
  /** fsync the staged file when complete. @default true */
  fsync?: boolean;
  /** @default createNodeHash */
  hashFactory?: HashFactory;
  clock?: Clock;
  random?: () => number;
}

interface ChunkCheckpoint {
  format: 'otakit.mqtt-chunks/1';
  chunkSize: number;
}

const DEFAULT_CHUNK_SIZE = 16_384;

/**
 * Creates the hook. A manifest must have exactly one artifact: a chunked transfer names no file,
 * it serves the package the server assigned to this device session.
 */
export function createMqttChunkDownloadHook(options: MqttChunkDownloadHookOptions): UpdateHooks['download'] {
  if (typeof options?.directory !== 'string' || options.directory.length === 0) {
    throw new OtaError('CONFIG', 'directory must be a staging directory path');
  }
  return (context) => stagedAttempt(options.directory, context.manifest, () => download(context));

  async function download(context: DownloadContext): Promise<StagedArtifactInput[]> {
    const { manifest } = context;
    const artifact = manifest.artifacts[0];
    if (artifact === undefined || manifest.artifacts.length !== 1) {
      throw new OtaError(
        'CONFIG',
        `Update ${manifest.id}: an MQTT chunk download takes exactly one artifact, the manifest has ${manifest.artifacts.length}`,
      );
    }
    const sink = new FileSink(stagedPath(options.directory, manifest, 0), { fsync: options.fsync ?? true });
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (artifact.size !== undefined && options.reserveBytes !== false) {
      const held = context.resume ? await sink.length() : 0;
      await ensureFreeSpace(options.directory, Math.max(0, artifact.size - held), {
        reserveBytes: options.reserveBytes ?? 1_048_576,
        signal: context.signal,
      });
    }
    const checkpoint: ChunkCheckpoint = { format: 'otakit.mqtt-chunks/1', chunkSize };
    await context.saveCheckpoint(checkpoint as unknown as JsonValue);
    const total = artifact.size ?? null;
    const result = await downloadMqttChunks({
      connection: options.connection,
      sink,
      chunkSize,
      resume: context.resume,
      expected: {
        ...(artifact.size === undefined ? {} : { size: artifact.size }),
        ...(artifact.md5 === undefined ? {} : { md5: artifact.md5 }),
        ...(artifact.sha256 === undefined ? {} : { sha256: artifact.sha256 }),
      },
      hashFactory: options.hashFactory ?? createNodeHash,
      signal: context.signal,
      onProgress: ({ bytes }) => context.onProgress({ bytes, total, artifact: 0 }),
      ...(options.topics === undefined ? {} : { topics: options.topics }),
      ...(options.chunkTimeoutMs === undefined ? {} : { chunkTimeoutMs: options.chunkTimeoutMs }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.random === undefined ? {} : { random: options.random }),
    });
    return [
      {
        location: sink.path,
        size: result.size,
        ...(result.md5 === undefined ? {} : { md5: result.md5 }),
        ...(result.sha256 === undefined ? {} : { sha256: result.sha256 }),
      },
    ];
  }
}
