/**
 * A simulated device: flash with an active and a previous slot, a staging area, real MD5 and
 * SHA-256 over the bytes, and switchable faults. Its hooks plug straight into a device machine,
 * so fleet and dashboard code can be exercised without hardware. The device object is the
 * "hardware": it survives when a machine is dropped to simulate a crash.
 *
 * @module
 */
import SparkMD5 from 'spark-md5';
import { sleep } from '../core/abort.js';
import { type Clock, systemClock } from '../core/clock.js';
import { exactArrayBuffer } from '../core/encoding.js';
import { InstallError, IntegrityError, TransportError } from '../core/errors.js';
import type { UpdateStatus } from '../core/status.js';
import type { DownloadContext, StagedContext, UpdateHooks } from '../machine/hooks.js';
import type { StagedArtifactInput } from '../machine/record.js';
import type { Manifest } from '../manifest/schema.js';

export interface SimulatedFaults {
  /** The next N download attempts fail with a retryable transport error. */
  failDownloads?: number;
  /** Flip a byte of every downloaded artifact (verify must catch it). */
  corruptDownloads?: boolean;
  /** The install hook throws. */
  failInstall?: boolean;
  /** The health check after install fails (the machine must roll back). */
  unhealthy?: boolean;
  /** Install reports that a reboot is needed (A/B slot switch). */
  rebootOnInstall?: boolean;
}

export interface SimulatedDeviceOptions {
  id: string;
  /** The bytes behind each artifact URL (the "server"). */
  content: ReadonlyMap<string, Uint8Array>;
  /** Bytes per simulated network read. @default 16384 */
  chunkSize?: number;
  /** Simulated time per chunk on `clock`, in ms. @default 0 */
  chunkDelayMs?: number;
  clock?: Clock;
  faults?: SimulatedFaults;
  /** Where reported statuses go (e.g. a tracker's `ingest`). */
  onReport?: (status: UpdateStatus) => void | Promise<void>;
  /** Version the device runs before any update. @default '0.0.0' */
  initialVersion?: string;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function md5Hex(bytes: Uint8Array): string {
  return SparkMD5.ArrayBuffer.hash(exactArrayBuffer(bytes));
}

export class SimulatedDevice {
  readonly id: string;
  readonly faults: SimulatedFaults;
  /** What runs now, by artifact name. */
  active = new Map<string, Uint8Array>();
  /** What ran before the last install, kept for rollback. */
  previous: Map<string, Uint8Array> | null = null;
  version: string;
  previousVersion: string | null = null;
  /** Staged bytes by location; survives a crash like a disk would. */
  readonly staging = new Map<string, Uint8Array>();
  /** Digests the verify hook computed, by location: install checks against these. */
  readonly verified = new Map<string, string>();
  /** Every hook call, in order, for assertions. */
  readonly log: string[] = [];
  /** Installs that saw bytes which were not verified as they are: must stay empty. */
  readonly violations: string[] = [];
  readonly hooks: UpdateHooks;
  readonly #options: SimulatedDeviceOptions;
  readonly #clock: Clock;

  constructor(options: SimulatedDeviceOptions) {
    this.id = options.id;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.faults = { ...options.faults };
    this.version = options.initialVersion ?? '0.0.0';
    this.hooks = {
      download: (context) => this.#download(context),
      verify: (context) => this.#verify(context),
      install: (context) => this.#install(context),
      healthCheck: async (context) => {
        this.log.push(`health:${context.manifest.id}`);
        return !this.faults.unhealthy;
      },
      commit: async (context) => {
        this.log.push(`commit:${context.manifest.id}`);
        this.previous = null;
      },
      rollback: async (context) => {
        this.log.push(`rollback:${context.manifest.id}`);
        if (this.previous !== null) {
          this.active = this.previous;
          this.version = this.previousVersion ?? this.version;
          this.previous = null;
        }
      },
      report: async ({ status }) => {
        await options.onReport?.(status);
      },
    };
  }

  #location(manifest: Manifest, index: number): string {
    return `sim://${this.id}/${manifest.id}/${index}`;
  }

  async #download(context: DownloadContext): Promise<StagedArtifactInput[]> {
    const { manifest, signal } = context;
    this.log.push(`download:${manifest.id}${context.resume ? ':resume' : ''}`);
    if ((this.faults.failDownloads ?? 0) > 0) {
      this.faults.failDownloads! -= 1;
      throw new TransportError('Simulated network failure');
    }
    const chunkSize = this.#options.chunkSize ?? 16_384;
    const total = manifest.artifacts.reduce(
      (sum, artifact) => sum + (this.#content(artifact.url).length ?? 0),
      0,
    );
    let received = 0;
    const staged: StagedArtifactInput[] = [];
    for (const [index, artifact] of manifest.artifacts.entries()) {
      const source = this.#content(artifact.url);
      const location = this.#location(manifest, index);
      // Resume: keep what an earlier attempt already wrote.
      const already = context.resume ? (this.staging.get(location)?.length ?? 0) : 0;
      const buffer = new Uint8Array(source.length);
      buffer.set(source.subarray(0, already));
      this.staging.set(location, buffer.subarray(0, already));
      this.verified.delete(location);
      received += already;
      for (let offset = already; offset < source.length; offset += chunkSize) {
        signal.throwIfAborted();
        if (this.#options.chunkDelayMs) await sleep(this.#options.chunkDelayMs, this.#clock, signal);
        const end = Math.min(source.length, offset + chunkSize);
        buffer.set(source.subarray(offset, end), offset);
        this.staging.set(location, buffer.subarray(0, end));
        received += end - offset;
        context.onProgress({ bytes: received, total, artifact: index });
      }
      if (this.faults.corruptDownloads && buffer.length > 0) buffer[0] = buffer[0]! ^ 0xff;
      this.staging.set(location, buffer);
      staged.push({ location, size: buffer.length, md5: md5Hex(buffer), sha256: await sha256Hex(buffer) });
    }
    return staged;
  }

  #content(url: string): Uint8Array {
    const bytes = this.#options.content.get(url);
    if (bytes === undefined) throw new TransportError(`404 for ${url}`, { status: 404, retryable: false });
    return bytes;
  }

  /** Re-reads the staged bytes and checks them against the manifest (a real second pass). */
  async #verify(context: StagedContext): Promise<boolean> {
    this.log.push(`verify:${context.manifest.id}`);
    for (const [index, artifact] of context.manifest.artifacts.entries()) {
      const location = context.staged[index]!.location;
      const bytes = this.staging.get(location);
      if (bytes === undefined)
        throw new IntegrityError(location, { algorithm: 'size', expected: 'bytes', actual: 'none' });
      const sha256 = await sha256Hex(bytes);
      if (artifact.sha256 !== undefined && artifact.sha256 !== sha256) {
        throw new IntegrityError(artifact.name ?? location, {
          algorithm: 'sha256',
          expected: artifact.sha256,
          actual: sha256,
        });
      }
      const md5 = md5Hex(bytes);
      if (artifact.md5 !== undefined && artifact.md5 !== md5) {
        throw new IntegrityError(artifact.name ?? location, {
          algorithm: 'md5',
          expected: artifact.md5,
          actual: md5,
        });
      }
      this.verified.set(location, sha256);
    }
    return true;
  }

  async #install(context: StagedContext): Promise<{ reboot: boolean }> {
    this.log.push(`install:${context.manifest.id}`);
    const next = new Map(this.active);
    for (const [index, artifact] of context.manifest.artifacts.entries()) {
      const location = context.staged[index]!.location;
      const bytes = this.staging.get(location);
      const verified = this.verified.get(location);
      if (bytes === undefined || verified === undefined || verified !== (await sha256Hex(bytes))) {
        this.violations.push(`${context.manifest.id}: install saw unverified bytes at ${location}`);
        throw new InstallError(`Staged artifact ${location} was not verified`);
      }
      next.set(artifact.name ?? `artifact-${index}`, bytes);
    }
    if (this.faults.failInstall) throw new InstallError('Simulated flash write failure');
    // Only one install can be undone: keep the slot from before the first attempt of this update.
    if (this.previous === null) {
      this.previous = this.active;
      this.previousVersion = this.version;
    }
    this.active = next;
    this.version = context.manifest.version;
    return { reboot: this.faults.rebootOnInstall === true };
  }
}

/** Builds a manifest for `content`, with real digests, for tests and demos. */
export async function manifestFor(
  id: string,
  version: string,
  content: ReadonlyMap<string, Uint8Array>,
): Promise<Manifest> {
  const artifacts = await Promise.all(
    [...content].map(async ([url, bytes], index) => ({
      url,
      size: bytes.length,
      md5: md5Hex(bytes),
      sha256: await sha256Hex(bytes),
      target: 'file' as const,
      name: `file-${index}`,
    })),
  );
  return { id, version, artifacts };
}
