/**
 * The download engine: streams one artifact over HTTP(S) into a {@link DownloadSink}, hashing
 * while it streams, resuming with `Range` (validated by `If-Range`, `Content-Range` and the ETag so
 * a changed artifact restarts from zero instead of producing a chimera), retrying with backoff
 * (honouring `Retry-After`), watching for stalls, enforcing size caps while bytes arrive, and never
 * following a redirect from https to http. Browser-safe: built on ky and web streams.
 *
 * @module
 */

import { abortReason, sleep } from '../core/abort.js';
import { type Clock, systemClock } from '../core/clock.js';
import {
  AbortError,
  IntegrityError,
  isOtaError,
  OtaError,
  TimeoutError,
  TransportError,
} from '../core/errors.js';
import { type Logger, noopLogger } from '../core/logger.js';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from '../core/retry.js';
import { schemeOf } from '../core/url-scheme.js';
import {
  createWebHash,
  type HashAlgorithm,
  type HashFactory,
  type IncrementalHash,
  updateAll,
} from '../manifest/hash.js';
import { KNOWN_SECRETS, redactText, redactUrl } from '../protocols/secrets.js';
import { authHeaders, type DownloadAuth, withQueryCredential } from './auth.js';
import { bodyReader } from './body-reader.js';
import { decodeDataUrl } from './data-url.js';
import type { DownloadSink } from './download-sink.js';
import { isWeakEtag, parseContentLength, parseContentRange, parseRetryAfter } from './http-headers.js';
import { loadKy } from './load-ky.js';

/** What identifies the bytes on the server, kept across restarts to validate a resume. */
export interface ResumeValidators {
  etag?: string;
  lastModified?: string;
}

export interface DownloadProgressInfo {
  bytes: number;
  total: number | null;
  bytesPerSecond: number;
}

export interface DownloadOptions {
  url: string;
  sink: DownloadSink;
  /** What the manifest promises. Size is enforced while streaming; digests are checked at the end. */
  expected?: { size?: number; md5?: string; sha256?: string };
  /**
   * Digests to compute while streaming.
   * @default the algorithms `expected` names, or `['sha256']` when it names none
   */
  hashes?: HashAlgorithm[];
  /** @default createWebHash (browser-safe); `otakit/node` passes node:crypto */
  hashFactory?: HashFactory;
  auth?: DownloadAuth;
  headers?: Record<string, string>;
  /**
   * Hard cap on the artifact size, enforced while streaming (endless-data attack).
   * @default 4 GiB
   */
  maxBytes?: number;
  /**
   * Continue from what the sink holds, with HTTP Range.
   * @default true
   */
  resume?: boolean;
  /** Validators saved from an earlier attempt (see `onValidators`). */
  validators?: ResumeValidators;
  /** Called when the server states new validators; persist them to resume after a restart. */
  onValidators?: (validators: ResumeValidators) => void | Promise<void>;
  /** Retry budget for network errors, 5xx, 408 and 429. @default 5 attempts, 1 s base, 60 s cap, full jitter */
  retry?: Partial<RetryPolicy>;
  /**
   * Longest honoured `Retry-After`, in ms; longer ones fail the attempt budget instead of wedging.
   * @default 300000
   */
  maxRetryAfterMs?: number;
  /** Time allowed until response headers arrive, per request. @default 30000 */
  headersTimeoutMs?: number;
  /**
   * Low-speed watchdog: below `bytesPerSecond` for `windowMs` counts as a stall (retryable).
   * @default { bytesPerSecond: 1024, windowMs: 30000 }
   */
  lowSpeed?: { bytesPerSecond: number; windowMs: number };
  /** @default 5 */
  maxRedirects?: number;
  onProgress?: (progress: DownloadProgressInfo) => void;
  /** @default 100 */
  progressIntervalMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
  logger?: Logger;
  random?: () => number;
  /**
   * Accept an inline `data:` URL (an Exosite JSON-type manifest carries its object so): its bytes
   * are staged and checked like a download, with no request. Other schemes than `https:`,
   * `http:` (and `data:` when allowed) are refused before any request, not retryable.
   * @default false
   */
  inline?: boolean;
  /** Custom fetch (a proxy agent, a test double). @default globalThis.fetch */
  fetch?: typeof fetch;
}

export interface DownloadResult {
  size: number;
  md5?: string;
  sha256?: string;
  validators: ResumeValidators;
  /** Bytes received over the network in this call (less than `size` when it resumed). */
  bytesTransferred: number;
  /** Offset the first request resumed from (0 when it started fresh). */
  resumedFrom: number;
  attempts: number;
}

const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;
const MAX_RESTARTS = 3;
const DOWNLOAD_RETRY: RetryPolicy = { ...DEFAULT_RETRY, attempts: 5 };

/** The retry-after hint travels on the error so the loop can honour it. */
class RetryableHttpError extends TransportError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, status: number, retryAfterMs: number | undefined) {
    super(message, { status, retryable: true });
    this.retryAfterMs = retryAfterMs;
  }
}

/** Thrown (internally) when the held bytes cannot be continued: start over at once. */
class RestartFromZero extends TransportError {
  constructor() {
    super('the server could not continue the partial download', { retryable: true });
  }
}

interface Hashing {
  algorithms: HashAlgorithm[];
  hashes: Map<HashAlgorithm, IncrementalHash>;
}

/**
 * Downloads `options.url` into `options.sink`.
 * @throws TransportError (non-retryable status, or the retry budget spent), TimeoutError (stalled),
 *   IntegrityError (size or digest mismatch; the sink is discarded), AbortError.
 *
 * @example
 * ```ts
 * const result = await downloadArtifact({
 *   url: artifact.url,
 *   sink: new MemorySink(),
 *   expected: { size: artifact.size, sha256: artifact.sha256 },
 *   onProgress: ({ bytes, total }) => console.log(bytes, total),
 * })
 * ```
 */
export async function downloadArtifact(options: DownloadOptions): Promise<DownloadResult> {
  return new Download(options).run();
}

class Download {
  readonly #options: DownloadOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #retry: RetryPolicy;
  readonly #limit: number;
  readonly #safeUrl: string;
  /** Configured secret values, masked wherever a foreign error message might repeat them. */
  readonly #secrets: string[];
  #validators: ResumeValidators;
  #offset = 0;
  #hashing: Hashing;
  #transferred = 0;
  #total: number | null = null;
  /**
   * The sink and the hashes may disagree with `#offset`: a write step failed after one of them took
   * (part of) the chunk, or the hashes were finished. The next attempt rebuilds them from the sink.
   */
  #desynced = false;

  constructor(options: DownloadOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? noopLogger;
    this.#retry = { ...DOWNLOAD_RETRY, ...options.retry };
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#limit = Math.min(maxBytes, options.expected?.size ?? Number.POSITIVE_INFINITY);
    this.#safeUrl = redactUrl(options.url);
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(options.url)) {
      // fetch refuses such URLs and repeats them, password included, in its error.
      throw new OtaError(
        'CONFIG',
        `${this.#safeUrl}: credentials in the URL; pass them as auth: { type: 'basic' }`,
      );
    }
    this.#secrets = secretValues(options);
    this.#validators = { ...options.validators };
    const expected = options.expected ?? {};
    const named = (['md5', 'sha256'] as const).filter((algorithm) => expected[algorithm] !== undefined);
    this.#hashing = this.#freshHashing(options.hashes ?? (named.length > 0 ? named : ['sha256']));
  }

  #freshHashing(algorithms: HashAlgorithm[]): Hashing {
    const factory = this.#options.hashFactory ?? createWebHash;
    return { algorithms, hashes: new Map(algorithms.map((algorithm) => [algorithm, factory(algorithm)])) };
  }

  async run(): Promise<DownloadResult> {
    try {
      return await this.#run();
    } catch (error) {
      // However it fails (Retry-After too long, an abort during the backoff, a failed resume...):
      // hashes in worker threads must not outlive the download.
      this.#disposeHashes();
      throw error;
    }
  }

  async #run(): Promise<DownloadResult> {
    const { sink, signal } = this.#options;
    const scheme = schemeOf(this.#options.url);
    if (scheme === 'data:') return this.#runInline();
    if (scheme !== 'https:' && scheme !== 'http:') {
      throw new TransportError(
        `${this.#safeUrl}: unsupported URL scheme ${scheme ?? '(none: a relative URL)'}; artifacts are fetched over https: or http:`,
        { retryable: false },
      );
    }
    if (
      this.#options.expected?.size !== undefined &&
      this.#options.expected.size > (this.#options.maxBytes ?? DEFAULT_MAX_BYTES)
    ) {
      throw new IntegrityError(this.#safeUrl, {
        algorithm: 'size',
        expected: `at most ${this.#options.maxBytes ?? DEFAULT_MAX_BYTES} bytes`,
        actual: String(this.#options.expected.size),
      });
    }
    await this.#prepareResume();
    const resumedFrom = this.#offset;
    let restarts = 0;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw toAbort(signal);
      try {
        if (this.#desynced) await this.#resync();
        await this.#attempt();
        await sink.flush();
        // A resumable sink must hold exactly what was hashed; anything else (another writer on
        // the same file) would pass verification with the wrong bytes on disk.
        if (sink.readBack !== undefined && (await sink.length()) !== this.#offset) {
          throw new RestartFromZero();
        }
        return { ...(await this.#finish()), resumedFrom, attempts: attempt };
      } catch (thrown) {
        if (thrown instanceof RestartFromZero && restarts < MAX_RESTARTS) {
          // A changed artifact is not a failed attempt, but a server that never settles is.
          restarts += 1;
          await this.#restart();
          attempt -= 1;
          continue;
        }
        const error = this.#classify(thrown);
        // Keep what arrived (a later attempt or a restart resumes from it); drop what is corrupt.
        if (isOtaError(error, 'INTEGRITY')) await sink.discard().catch(() => {});
        else await sink.flush().catch(() => {});
        if (!error.retryable || attempt >= this.#retry.attempts || signal?.aborted) throw error;
        const hinted = error instanceof RetryableHttpError ? error.retryAfterMs : undefined;
        if (hinted !== undefined && hinted > (this.#options.maxRetryAfterMs ?? 300_000)) throw error;
        const delay = Math.max(backoffDelay(this.#retry, attempt, this.#options.random), hinted ?? 0);
        this.#logger.info('otakit download retry', {
          url: this.#safeUrl,
          attempt,
          delayMs: delay,
          code: error.code,
        });
        await sleep(delay, this.#clock, signal).catch((aborted: unknown) => {
          throw toAbort(signal, aborted);
        });
      }
    }
  }

  /** Picks up what the sink already holds, rebuilding the hashes from it. */
  /** An inline `data:` artifact: staged, hashed and checked like a download, with no request. */
  async #runInline(): Promise<DownloadResult> {
    if (this.#options.inline !== true) {
      throw new TransportError(
        `${this.#safeUrl}: inline data: artifacts are not allowed here (set inline: true)`,
        {
          retryable: false,
        },
      );
    }
    const { sink } = this.#options;
    const bytes = decodeDataUrl(
      this.#options.url,
      this.#options.maxBytes ?? DEFAULT_MAX_BYTES,
      this.#safeUrl,
    );
    try {
      await sink.reset();
      await sink.write(bytes);
      await updateAll(this.#hashing.hashes.values(), bytes);
      this.#offset = bytes.length;
      this.#options.onProgress?.({ bytes: bytes.length, total: bytes.length, bytesPerSecond: 0 });
      await sink.flush();
      return { ...(await this.#finish()), resumedFrom: 0, attempts: 1 };
    } catch (thrown) {
      await sink.discard().catch(() => {});
      throw thrown;
    }
  }

  async #prepareResume(): Promise<void> {
    const { sink } = this.#options;
    const held = this.#options.resume === false ? 0 : await sink.length();
    if (held === 0) {
      await sink.reset();
      return;
    }
    if (sink.readBack === undefined || held > this.#limit) {
      await this.#restart();
      return;
    }
    let seen = 0;
    for await (const chunk of sink.readBack()) {
      // Rebuilding from a large file takes seconds: a cancel must not wait for it.
      if (this.#options.signal?.aborted) throw toAbort(this.#options.signal);
      await updateAll(this.#hashing.hashes.values(), chunk);
      seen += chunk.length;
    }
    if (seen !== held) {
      await this.#restart();
      return;
    }
    this.#offset = held;
  }

  #disposeHashes(): void {
    for (const hash of this.#hashing.hashes.values()) hash.dispose?.();
  }

  /** New, empty hashes at offset 0; the caller decides what they are rebuilt from. */
  #forgetProgress(): void {
    this.#disposeHashes();
    this.#hashing = this.#freshHashing(this.#hashing.algorithms);
    this.#offset = 0;
  }

  async #restart(): Promise<void> {
    this.#forgetProgress();
    await this.#options.sink.reset();
    this.#desynced = false;
  }

  /** Fresh hashes rebuilt from what the sink holds, and the offset set to it (see `#desynced`). */
  async #resync(): Promise<void> {
    this.#forgetProgress();
    await this.#prepareResume();
    this.#desynced = false;
  }

  async #attempt(): Promise<void> {
    const response = await this.#request();
    try {
      try {
        await this.#acceptResponse(response);
      } catch (thrown) {
        if (thrown instanceof DownloadComplete) return;
        throw thrown;
      }
      if (response.body === null) throw new TransportError(`${this.#safeUrl}: response without a body`);
      await this.#stream(response.body);
    } finally {
      // Release the connection if we bailed out before reading to the end.
      await response.body?.cancel().catch(() => {});
    }
  }

  /** One request with a deadline for the response headers. */
  async #fetchOnce(
    url: string,
    headers: Record<string, string>,
    redirect: RequestRedirect,
  ): Promise<Response> {
    const { signal, headersTimeoutMs = 30_000 } = this.#options;
    const clock = this.#clock;
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = clock.setTimeout(
      () => controller.abort(new TimeoutError(`${redactUrl(url)}: response headers`, headersTimeoutMs)),
      headersTimeoutMs,
    );
    try {
      return await (await loadKy())(url, {
        headers,
        signal: controller.signal,
        redirect,
        retry: 0,
        timeout: false,
        throwHttpErrors: false,
        ...(this.#options.fetch ? { fetch: this.#options.fetch } : {}),
      });
    } catch (thrown) {
      if (controller.signal.aborted) throw controller.signal.reason ?? thrown;
      throw thrown;
    } finally {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Issues the request, following redirects by hand so a downgrade or a credential leak is impossible. */
  async #request(): Promise<Response> {
    let url = withQueryCredential(this.#options.url, this.#options.auth);
    let auth = authHeaders(this.#options.auth);
    let extra = { ...this.#options.headers };
    const maxRedirects = this.#options.maxRedirects ?? 5;
    for (let redirects = 0; ; redirects++) {
      const headers: Record<string, string> = { ...extra, ...auth };
      // Resume only with a validator: without one the server cannot say the bytes held are of
      // the same artifact, so the request asks for all of it (and the 200 restarts from zero).
      const validator = this.#resumeValidator();
      if (this.#offset > 0 && validator !== undefined) {
        headers.range = `bytes=${this.#offset}-`;
        headers['if-range'] = validator.value;
      }
      const response = await this.#fetchOnce(url, headers, 'manual');
      if (response.type === 'opaqueredirect') {
        // Browsers hide redirects; they also block https→http (mixed content) themselves.
        return this.#fetchOnce(url, headers, 'follow');
      }
      if (response.status < 300 || response.status >= 400 || response.status === 304) return response;
      const location = response.headers.get('location');
      await response.body?.cancel().catch(() => {});
      if (location === null) return response;
      if (redirects >= maxRedirects) {
        throw new TransportError(`${this.#safeUrl}: more than ${maxRedirects} redirects`, {
          retryable: false,
        });
      }
      const next = new URL(location, url);
      const current = new URL(url);
      if (current.protocol === 'https:' && next.protocol !== 'https:') {
        throw new TransportError(
          `${this.#safeUrl}: refusing a redirect from https to ${next.protocol.replace(':', '')} (${redactUrl(next.href)})`,
          { retryable: false },
        );
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new TransportError(`${this.#safeUrl}: refusing a redirect to ${next.protocol}`, {
          retryable: false,
        });
      }
      // Credentials never follow a redirect to another origin, wherever they were configured.
      if (next.origin !== current.origin) {
        auth = {};
        extra = withoutSecretHeaders(extra);
      }
      url = next.href;
    }
  }

  /** The validator a resume request sends in `If-Range`: a strong ETag, else Last-Modified. */
  #resumeValidator(): { kind: 'etag' | 'lastModified'; value: string } | undefined {
    const { etag, lastModified } = this.#validators;
    if (etag !== undefined && !isWeakEtag(etag)) return { kind: 'etag', value: etag };
    if (lastModified !== undefined) return { kind: 'lastModified', value: lastModified };
    return undefined;
  }

  /** Decides from the status and headers whether to continue, restart or fail. */
  async #acceptResponse(response: Response): Promise<void> {
    const { status, headers } = response;
    const now = this.#clock.now();
    if (status === 429 || status === 408 || status >= 500) {
      throw new RetryableHttpError(
        `${this.#safeUrl}: HTTP ${status}`,
        status,
        parseRetryAfter(headers.get('retry-after'), now),
      );
    }
    if (status === 416 && this.#offset > 0) {
      // Nothing left to send from our offset: either we hold it all, or the artifact shrank.
      const range = headers.get('content-range');
      const total = range ? Number(/\/(\d+)/.exec(range)?.[1]) : Number.NaN;
      if (total === this.#offset) {
        this.#total = total;
        throw new DownloadComplete();
      }
      throw new RestartFromZero();
    }
    if (status !== 200 && status !== 206) {
      throw new TransportError(`${this.#safeUrl}: HTTP ${status}`, { status, retryable: false });
    }
    const etag = headers.get('etag') ?? undefined;
    const lastModified = headers.get('last-modified') ?? undefined;
    if (status === 206) {
      const range = parseContentRange(headers.get('content-range'));
      const sent = this.#resumeValidator();
      if (this.#offset === 0 || sent === undefined) {
        // A range nobody asked for: appending it would put bytes at the wrong place.
        throw new TransportError(`${this.#safeUrl}: HTTP 206 to a request without Range`, {
          status,
          retryable: false,
        });
      }
      // The 206 must carry the very validator sent in If-Range: a missing or different one
      // means the server cannot vouch that the new bytes continue the old ones.
      const same = sent.kind === 'etag' ? etag === sent.value : lastModified === sent.value;
      if (range === undefined || range.start !== this.#offset || !same) {
        throw new RestartFromZero();
      }
      this.#total = range.total;
    } else {
      // 200: the whole artifact. Either we asked for it, or the server ignored Range / If-Range
      // said it changed: in every case the held bytes are worthless.
      if (this.#offset > 0) {
        this.#logger.info('otakit download restarts from zero', {
          url: this.#safeUrl,
          heldBytes: this.#offset,
        });
        await this.#restart();
      }
      this.#total = parseContentLength(headers.get('content-length')) ?? null;
    }
    const expectedSize = this.#options.expected?.size;
    if (this.#total !== null && expectedSize !== undefined && this.#total !== expectedSize) {
      throw new IntegrityError(this.#safeUrl, {
        algorithm: 'size',
        expected: String(expectedSize),
        actual: String(this.#total),
      });
    }
    if (this.#total !== null && this.#total > this.#limit) {
      throw new IntegrityError(this.#safeUrl, {
        algorithm: 'size',
        expected: `at most ${this.#limit} bytes`,
        actual: String(this.#total),
      });
    }
    if (etag !== this.#validators.etag || lastModified !== this.#validators.lastModified) {
      this.#validators = { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
      await this.#options.onValidators?.(this.#validators);
    }
  }

  /** Streams the body into the sink, hashing, counting and watching the speed. */
  async #stream(body: ReadableStream<Uint8Array>): Promise<void> {
    const { sink, signal, onProgress, lowSpeed = { bytesPerSecond: 1024, windowMs: 30_000 } } = this.#options;
    const reader = bodyReader(body);
    const clock = this.#clock;
    const started = { at: clock.now(), bytes: this.#offset };
    let windowBytes = 0;
    let stalled: TimeoutError | undefined;
    let watchdog: unknown;
    const watch = () => {
      watchdog = clock.setTimeout(() => {
        if ((windowBytes * 1000) / lowSpeed.windowMs < lowSpeed.bytesPerSecond) {
          stalled = new TimeoutError(
            `${this.#safeUrl}: download stalled (below ${lowSpeed.bytesPerSecond} B/s for ${lowSpeed.windowMs} ms)`,
            lowSpeed.windowMs,
          );
          reader.cancel(stalled).catch(() => {});
          return;
        }
        windowBytes = 0;
        watch();
      }, lowSpeed.windowMs);
    };
    watch();
    const onAbort = () => reader.cancel(abortReason(signal!)).catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    let lastEmit = Number.NEGATIVE_INFINITY;
    let lastFraction = -1;
    try {
      for (;;) {
        const value = await reader.read();
        if (stalled) throw stalled;
        if (signal?.aborted) throw toAbort(signal);
        if (value === undefined) break;
        if (this.#offset + value.length > this.#limit) {
          throw new IntegrityError(this.#safeUrl, {
            algorithm: 'size',
            expected: `at most ${this.#limit} bytes`,
            actual: `more than ${this.#offset + value.length - 1}`,
          });
        }
        // The sink and the hashes are done with the chunk when their promises settle: the next
        // read reuses its memory, so wait for both even when one fails. A failure leaves them
        // disagreeing (one took the chunk, or part of it): the next attempt rebuilds the hashes.
        const settled = await Promise.allSettled([
          sink.write(value),
          updateAll(this.#hashing.hashes.values(), value),
        ]);
        const failed = settled.find((result) => result.status === 'rejected');
        if (failed !== undefined) {
          this.#desynced = true;
          throw failed.reason;
        }
        this.#offset += value.length;
        this.#transferred += value.length;
        windowBytes += value.length;
        if (onProgress) {
          const now = clock.now();
          const fraction = this.#total ? this.#offset / this.#total : -1;
          if (
            now - lastEmit >= (this.#options.progressIntervalMs ?? 100) ||
            fraction - lastFraction >= 0.01
          ) {
            lastEmit = now;
            lastFraction = fraction;
            const elapsed = now - started.at;
            onProgress({
              bytes: this.#offset,
              total: this.#total,
              bytesPerSecond: elapsed > 0 ? ((this.#offset - started.bytes) * 1000) / elapsed : 0,
            });
          }
        }
      }
    } catch (thrown) {
      // Release the connection: the body is locked to our reader, so cancelling the body cannot.
      await reader.cancel(stalled ?? thrown).catch(() => {});
      if (stalled) throw stalled;
      throw thrown;
    } finally {
      clock.clearTimeout(watchdog);
      signal?.removeEventListener('abort', onAbort);
    }
    if (this.#total !== null && this.#offset < this.#total) {
      throw new TransportError(
        `${this.#safeUrl}: connection closed after ${this.#offset} of ${this.#total} bytes`,
      );
    }
    if (onProgress) {
      const elapsed = clock.now() - started.at;
      onProgress({
        bytes: this.#offset,
        total: this.#total ?? this.#offset,
        bytesPerSecond: elapsed > 0 ? ((this.#offset - started.bytes) * 1000) / elapsed : 0,
      });
    }
  }

  async #finish(): Promise<Omit<DownloadResult, 'resumedFrom' | 'attempts'>> {
    // A hash is finished by its digest (or broken if that fails): another attempt needs new ones.
    this.#desynced = true;
    const digests: Partial<Record<HashAlgorithm, string>> = {};
    for (const [algorithm, hash] of this.#hashing.hashes) digests[algorithm] = await hash.digest();
    const expected = this.#options.expected ?? {};
    if (expected.size !== undefined && this.#offset !== expected.size) {
      throw new IntegrityError(this.#safeUrl, {
        algorithm: 'size',
        expected: String(expected.size),
        actual: String(this.#offset),
      });
    }
    for (const algorithm of ['sha256', 'md5'] as const) {
      const want = expected[algorithm]?.toLowerCase();
      const got = digests[algorithm];
      if (want !== undefined && got !== undefined && want !== got) {
        throw new IntegrityError(this.#safeUrl, { algorithm, expected: want, actual: got });
      }
    }
    return {
      size: this.#offset,
      ...digests,
      validators: this.#validators,
      bytesTransferred: this.#transferred,
    };
  }

  #classify(thrown: unknown): OtaError {
    if (isOtaError(thrown)) return thrown;
    if (this.#options.signal?.aborted) return toAbort(this.#options.signal, thrown);
    // Programming errors are bugs, not network weather: never retry them as transport failures.
    if (thrown instanceof ReferenceError || thrown instanceof SyntaxError || thrown instanceof RangeError)
      throw thrown;
    const reason = this.#redact(thrown instanceof Error ? thrown.message : String(thrown));
    // The sink failing (disk full, I/O error) is not the network: another attempt will not help.
    if ((thrown as { syscall?: unknown }).syscall !== undefined) {
      return new OtaError('DOWNLOAD', `${this.#safeUrl}: writing the download failed: ${reason}`);
    }
    // fetch and stream failures (reset, refused, truncated body) are worth another attempt. The
    // cause is not kept: fetch errors can repeat header values and URLs verbatim.
    return new TransportError(`${this.#safeUrl}: ${reason}`, { retryable: true });
  }

  /** Masks URL credentials anywhere in `text`, and every configured secret value. */
  #redact(text: string): string {
    let out = redactText(text);
    for (const secret of this.#secrets) if (secret.length >= 4) out = out.split(secret).join('***');
    return out;
  }
}

/** The values of every credential configured, so foreign error text can be scrubbed of them. */
function secretValues(options: DownloadOptions): string[] {
  const values: string[] = [];
  const { auth } = options;
  if (auth?.type === 'basic') values.push(auth.password);
  if (auth?.type === 'bearer') values.push(auth.token);
  if (auth?.type === 'header' || auth?.type === 'query') values.push(auth.value);
  const secretNames = new Set(KNOWN_SECRETS.headers);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (secretNames.has(name.toLowerCase())) values.push(value);
  }
  return values;
}

/** Drops every header whose value is a credential (before following a redirect elsewhere). */
function withoutSecretHeaders(headers: Record<string, string>): Record<string, string> {
  const secretNames = new Set(KNOWN_SECRETS.headers);
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !secretNames.has(name.toLowerCase())));
}

/** A 416 proved the sink already holds the whole artifact. */
class DownloadComplete extends TransportError {
  constructor() {
    super('the sink already holds the whole artifact');
  }
}

function toAbort(signal: AbortSignal | undefined, cause?: unknown): AbortError {
  const reason = signal?.reason ?? cause;
  if (isOtaError(reason, 'ABORTED')) return reason;
  return new AbortError(reason instanceof Error ? reason.message : 'Download aborted', { cause: reason });
}
