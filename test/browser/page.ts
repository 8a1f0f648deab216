/**
 * What runs inside Chromium for test/browser/chromium.test.ts. esbuild bundles this file (and
 * through it the root entry `src/index.ts`, every dependency included) for the browser; the page
 * loads the bundle as a module and the test drives the functions below with `page.evaluate`.
 * Everything returned is plain JSON, so the assertions stay on the Node side.
 */
import {
  createUpdateMachine,
  type DownloadContext,
  type DownloadResult,
  downloadArtifact,
  isOtaError,
  type JsonValue,
  MemorySink,
  MemoryStore,
  type ResumeValidators,
  type StagedArtifactInput,
  type StagedContext,
  UpdateSnapshotSchema,
  type UpdateStatus,
} from '../../src/index.js';
import { machineStoreKey } from '../../src/machine/machine-base.js';

export interface Expected {
  size?: number;
  md5?: string;
  sha256?: string;
}

export type DownloadReport =
  | {
      ok: true;
      result: Omit<DownloadResult, 'validators'> & { validators: ResumeValidators };
      /** Bytes the sink holds, and their SHA-256 by WebCrypto (independent of the engine's hashes). */
      sinkLength: number;
      sinkSha256: string;
      /** The `mode` of every `ReadableStream.getReader()` call made during the download. */
      readerModes: string[];
    }
  | { ok: false; error: FailureInfo; sinkLength: number; readerModes: string[] };

export interface FailureInfo {
  name: string;
  code: string | undefined;
  message: string;
  isOtaError: boolean;
  integrity: boolean;
}

async function webSha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

function failure(thrown: unknown): FailureInfo {
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  return {
    name: error.name,
    code: (error as { code?: string }).code,
    message: error.message,
    isOtaError: isOtaError(error),
    integrity: isOtaError(error, 'INTEGRITY'),
  };
}

/** Records the `mode` of every reader taken from any ReadableStream while `work` runs. */
async function watchReaders<T>(work: () => Promise<T>): Promise<{ value: T; modes: string[] }> {
  const original = ReadableStream.prototype.getReader;
  const modes: string[] = [];
  ReadableStream.prototype.getReader = function (
    this: ReadableStream,
    options?: ReadableStreamGetReaderOptions,
  ) {
    modes.push(options?.mode ?? 'default');
    return original.call(this, options as never);
  } as typeof original;
  try {
    return { value: await work(), modes };
  } finally {
    ReadableStream.prototype.getReader = original;
  }
}

/** `downloadArtifact` into a `MemorySink`, with the browser's own fetch and the web hashes. */
async function download(
  url: string,
  expected: Expected,
  retry: { attempts?: number; baseDelayMs?: number } = {},
): Promise<DownloadReport> {
  const sink = new MemorySink();
  const { value, modes } = await watchReaders(async () => {
    try {
      const result = await downloadArtifact({
        url,
        sink,
        expected,
        hashes: ['md5', 'sha256'],
        retry: { baseDelayMs: 10, jitter: 'none', ...retry },
      });
      return { result };
    } catch (thrown) {
      return { error: failure(thrown) };
    }
  });
  const sinkLength = await sink.length();
  if ('error' in value) return { ok: false, error: value.error, sinkLength, readerModes: modes };
  return {
    ok: true,
    result: value.result,
    sinkLength,
    sinkSha256: await webSha256(sink.bytes()),
    readerModes: modes,
  };
}

/**
 * Is Chrome's fetch body a byte stream? Takes a BYOB reader (throws on a plain stream) and reads
 * once into a buffer of ours.
 */
async function byobProbe(url: string): Promise<{ byob: boolean; error: string | null; firstRead: number }> {
  const response = await fetch(url);
  if (response.body === null) return { byob: false, error: 'no body', firstRead: 0 };
  let reader: ReadableStreamBYOBReader;
  try {
    reader = response.body.getReader({ mode: 'byob' });
  } catch (thrown) {
    await response.body.cancel().catch(() => {});
    return { byob: false, error: String(thrown), firstRead: 0 };
  }
  const { value } = await reader.read(new Uint8Array(65_536));
  await reader.cancel();
  return { byob: true, error: null, firstRead: value?.byteLength ?? 0 };
}

interface DownloadCheckpoint {
  validators: (ResumeValidators | null)[];
}

/**
 * A device machine (MemoryStore, hooks) applying `manifest` with real downloads from the test
 * server. The download hook keeps one MemorySink per artifact across attempts and lets the
 * machine retry, so a dropped connection resumes at the machine level, with `resume`, the saved
 * validators and HTTP Range. Every status the device reports goes, as JSON, to a tracker.
 */
async function deviceUpdate(manifest: unknown) {
  const store = new MemoryStore();
  const sinks = new Map<string, MemorySink>();
  /** The "flash": what install wrote, by artifact location. */
  const flash = new Map<string, Uint8Array>();
  const log: string[] = [];
  const downloadCalls: { attempt: number; resume: boolean; checkpoint: JsonValue | null }[] = [];
  const progress: { bytes: number; total: number | null }[] = [];
  const tracker = createUpdateMachine({ id: 'browser-device', role: 'tracker' });
  const trackerRefusals: string[] = [];

  const machine = createUpdateMachine({
    id: 'browser-device',
    store,
    random: () => 0,
    retry: { download: { attempts: 3, baseDelayMs: 10, jitter: 'none' } },
    hooks: {
      async download(context: DownloadContext): Promise<StagedArtifactInput[]> {
        downloadCalls.push({
          attempt: context.attempt,
          resume: context.resume,
          checkpoint: context.checkpoint,
        });
        log.push(`download:${context.attempt}`);
        const artifacts = context.manifest.artifacts;
        const saved = context.checkpoint as unknown as DownloadCheckpoint | null;
        const checkpoint: DownloadCheckpoint = {
          validators: artifacts.map((_, index) => saved?.validators[index] ?? null),
        };
        const staged: StagedArtifactInput[] = [];
        for (const [index, artifact] of artifacts.entries()) {
          const location = `memory:${artifact.name ?? index}`;
          let sink = sinks.get(location);
          if (sink === undefined) {
            sink = new MemorySink();
            sinks.set(location, sink);
          }
          const validators = checkpoint.validators[index];
          const result = await downloadArtifact({
            url: artifact.url,
            sink,
            expected: {
              ...(artifact.size === undefined ? {} : { size: artifact.size }),
              ...(artifact.md5 === undefined ? {} : { md5: artifact.md5 }),
              ...(artifact.sha256 === undefined ? {} : { sha256: artifact.sha256 }),
            },
            hashes: ['md5', 'sha256'],
            // Past Chrome's HTTP cache: it may keep the dropped first response as a truncated entry
            // and then check it with a Range request of its own (seen on a busy machine), which is
            // not what otakit sends and not what the test is about.
            fetch: (input, init) => fetch(input, { ...init, cache: 'no-store' }),
            resume: context.resume,
            ...(validators ? { validators } : {}),
            // One attempt per hook call: the machine's download retry does the resuming.
            retry: { attempts: 1 },
            signal: context.signal,
            onValidators: async (next) => {
              checkpoint.validators[index] = next;
              await context.saveCheckpoint(checkpoint as unknown as JsonValue);
            },
            onProgress: ({ bytes, total }) => context.onProgress({ bytes, total, artifact: index }),
          });
          staged.push({
            location,
            size: result.size,
            ...(result.md5 === undefined ? {} : { md5: result.md5 }),
            ...(result.sha256 === undefined ? {} : { sha256: result.sha256 }),
          });
        }
        return staged;
      },
      // No verify hook: the default one compares the staged digests with the manifest.
      async install({ staged }: StagedContext) {
        log.push('install');
        for (const artifact of staged) {
          const sink = sinks.get(artifact.location);
          if (sink === undefined) throw new Error(`nothing staged at ${artifact.location}`);
          flash.set(artifact.location, sink.bytes());
        }
      },
      async healthCheck({ staged }: StagedContext) {
        log.push('healthCheck');
        // What was flashed is what the manifest promised, by an independent hash.
        for (const artifact of staged) {
          const bytes = flash.get(artifact.location);
          if (bytes === undefined || (await webSha256(bytes)) !== artifact.sha256) return false;
        }
        return true;
      },
      async commit() {
        log.push('commit');
      },
      async report({ status }: { status: UpdateStatus }) {
        // What a protocol would carry: JSON over the wire.
        const result = await tracker.ingest(JSON.parse(JSON.stringify(status)));
        if (!result.accepted) trackerRefusals.push(result.error.message);
      },
    },
  });
  const transitions: string[] = [];
  machine.on('transition', ({ from, to }) => transitions.push(`${from}->${to}`));
  machine.on('progress', ({ bytes, total }) => progress.push({ bytes, total }));
  const trackerTransitions: string[] = [];
  tracker.on('transition', ({ from, to }) => trackerTransitions.push(`${from}->${to}`));

  const outcome = await machine.apply(manifest as Parameters<typeof machine.apply>[0]);
  const snapshot = machine.snapshot();
  const trackerSnapshot = tracker.snapshot();
  const parsed = UpdateSnapshotSchema.safeParse(snapshot);
  const trackerParsed = UpdateSnapshotSchema.safeParse(trackerSnapshot);
  const persisted = (await store.get(machineStoreKey('browser-device'))) as { state?: string } | undefined;
  const flashed = await Promise.all(
    [...flash].map(async ([location, bytes]) => ({
      location,
      size: bytes.length,
      sha256: await webSha256(bytes),
    })),
  );
  return {
    outcome,
    snapshot,
    snapshotValid: parsed.success,
    snapshotIssues: parsed.success ? [] : parsed.error.issues.map((issue) => issue.message),
    trackerSnapshot,
    trackerValid: trackerParsed.success,
    trackerTransitions,
    trackerRefusals,
    transitions,
    persistedState: persisted?.state ?? null,
    log,
    downloadCalls,
    lastProgress: progress.at(-1) ?? null,
    flashed,
  };
}

export type DeviceUpdateReport = Awaited<ReturnType<typeof deviceUpdate>>;

const api = { download, byobProbe, deviceUpdate };
export type OtakitPage = typeof api;

declare global {
  /** Set by the bundle of test/browser/page.ts once loaded in the page. */
  var otakitPage: OtakitPage | undefined;
}

globalThis.otakitPage = api;
