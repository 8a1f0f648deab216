/**
 * The `fetch` download: each artifact of an order over HTTP, hashed as it streams and checked
 * against what the order says (SHA-256, else MD5, and the size), the bytes dropped as they pass.
 * A simulated device thus proves the artifact server answers every device, with the right bytes,
 * without keeping 10 000 copies of them.
 *
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import { abortReason } from '../../core/abort.js';
import { IntegrityError, type OtaError, TransportError, toOtaError } from '../../core/errors.js';
import type { Artifact, Manifest } from '../../manifest/schema.js';
import { DEFAULTS, type FetchedDownload } from './options.js';

/** What an error message may call an artifact: never its URL, which can hold credentials. */
function labelOf(artifact: Artifact, index: number): string {
  return artifact.name ?? `${artifact.target} artifact ${index + 1}`;
}

/** The cause of a failed `fetch`, without the URL it may quote. */
function describe(cause: unknown): string {
  const inner = (cause as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof inner === 'string' ? inner : cause instanceof Error ? cause.name : 'network error';
}

async function fetchOne<Target>(
  artifact: Artifact,
  label: string,
  device: { id: string; target: Target },
  options: FetchedDownload<Target>,
  signal: AbortSignal,
): Promise<void> {
  const request = options.request?.(artifact, device) ?? { url: artifact.url };
  const doFetch = options.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await doFetch(request.url, {
      ...(request.headers === undefined ? {} : { headers: { ...request.headers } }),
      signal,
      cache: 'no-store',
    });
  } catch (cause) {
    if (signal.aborted) throw abortReason(signal);
    throw new TransportError(`Download of ${label} failed: ${describe(cause)}`, { cause, retryable: true });
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new TransportError(`Download of ${label} failed: HTTP ${response.status}`, {
      status: response.status,
      retryable: response.status >= 500 || response.status === 408 || response.status === 429,
    });
  }
  // The strongest digest the order carries, as the download engine checks it.
  const algorithm = artifact.sha256 !== undefined ? 'sha256' : artifact.md5 !== undefined ? 'md5' : undefined;
  const hash: Hash | undefined = algorithm === undefined ? undefined : createHash(algorithm);
  let size = 0;
  if (response.body !== null) {
    const reader = response.body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      size += chunk.value.byteLength;
      hash?.update(chunk.value);
    }
  }
  if (artifact.size !== undefined && size !== artifact.size) {
    throw new IntegrityError(label, {
      algorithm: 'size',
      expected: String(artifact.size),
      actual: String(size),
    });
  }
  if (hash !== undefined && algorithm !== undefined) {
    const expected = (algorithm === 'sha256' ? artifact.sha256 : artifact.md5)!.toLowerCase();
    const actual = hash.digest('hex');
    if (actual !== expected) throw new IntegrityError(label, { algorithm, expected, actual });
  }
}

/**
 * Fetches every artifact of `manifest` in order. Resolves `null` when all arrived intact, or the
 * error the download failed with (a digest mismatch is not tried again: the same bytes would
 * come). Rejects only when `signal` aborts (the simulator stopped).
 */
export async function fetchArtifacts<Target>(
  manifest: Manifest,
  device: { id: string; target: Target },
  options: FetchedDownload<Target>,
  signal: AbortSignal,
): Promise<OtaError | null> {
  const attempts = Math.max(1, options.attempts ?? DEFAULTS.fetchAttempts);
  for (const [index, artifact] of manifest.artifacts.entries()) {
    const label = labelOf(artifact, index);
    let failure: OtaError | null = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await fetchOne(artifact, label, device, options, signal);
        failure = null;
        break;
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        failure = toOtaError(error, 'DOWNLOAD', true);
        if (failure.code === 'INTEGRITY' || failure.code === 'CONFIG') break;
      }
    }
    if (failure !== null) return failure;
  }
  return null;
}
