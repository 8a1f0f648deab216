/**
 * What runs inside Chromium for bench/browser.ts. esbuild bundles this file, and through it
 * otakit's root entry (src/index.ts, every dependency included), for the browser, as
 * test/browser/page.ts is. Each function times itself with `performance.now()` in the page, so no
 * figure includes the DevTools round trip, and returns plain JSON.
 */
import { createWebHash, type DownloadSink, downloadArtifact } from '../../src/index.js';

/** Bytes per chunk: what the download engine asks a BYOB reader for per read. */
const CHUNK_BYTES = 256 * 1024;

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  // getRandomValues fills at most 64 KiB per call.
  for (let offset = 0; offset < length; offset += 65_536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65_536));
  }
  return bytes;
}

const hex = (digest: ArrayBuffer) =>
  [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');

/**
 * createWebHash('md5') over `bytes` bytes: one random 256 KiB chunk fed again and again, as a
 * download's BYOB reader feeds one reused buffer.
 */
async function md5Stream(bytes: number): Promise<{ ms: number }> {
  const chunk = randomBytes(CHUNK_BYTES);
  const started = performance.now();
  const hash = createWebHash('md5');
  for (let done = 0; done < bytes; done += CHUNK_BYTES) await hash.update(chunk);
  await hash.digest();
  return { ms: performance.now() - started };
}

/**
 * SHA-256 of one random buffer of `bytes` bytes, twice: createWebHash('sha256') fed 256 KiB at a
 * time, and WebCrypto's one-shot `digest` of the whole buffer (it cannot hash a stream, so it is
 * the upper bound, not an alternative). Both digests must agree.
 */
async function sha256Stream(
  bytes: number,
): Promise<{ streamMs: number; webCryptoMs: number; same: boolean }> {
  const buffer = randomBytes(bytes);
  let started = performance.now();
  const hash = createWebHash('sha256');
  for (let offset = 0; offset < bytes; offset += CHUNK_BYTES) {
    await hash.update(buffer.subarray(offset, offset + CHUNK_BYTES));
  }
  const streamed = await hash.digest();
  const streamMs = performance.now() - started;
  started = performance.now();
  const oneShot = hex(await crypto.subtle.digest('SHA-256', buffer));
  const webCryptoMs = performance.now() - started;
  return { streamMs, webCryptoMs, same: streamed === oneShot };
}

/** A sink that keeps nothing and only counts: a MemorySink would hold the whole artifact. */
class CountingSink implements DownloadSink {
  bytes = 0;
  /** Holds nothing, so there is nothing to resume from. */
  async length(): Promise<number> {
    return 0;
  }
  async reset(): Promise<void> {
    this.bytes = 0;
  }
  async write(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.byteLength;
  }
  async flush(): Promise<void> {}
  async discard(): Promise<void> {
    this.bytes = 0;
  }
}

/** downloadArtifact with the browser's fetch and createWebHash, MD5 + SHA-256, into a CountingSink. */
async function otakitDownload(url: string, size: number) {
  const sink = new CountingSink();
  const started = performance.now();
  const result = await downloadArtifact({
    url,
    sink,
    expected: { size },
    hashes: ['md5', 'sha256'],
    resume: false,
    // A retried attempt would be timed as if it were one: fail instead.
    retry: { attempts: 1 },
  });
  return {
    ms: performance.now() - started,
    bytes: sink.bytes,
    md5: result.md5 ?? null,
    sha256: result.sha256 ?? null,
    attempts: result.attempts,
  };
}

/** The baseline: `fetch`, then the body read to the end with a BYOB reader into one reused buffer. */
async function fetchBaseline(url: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(url);
  if (!response.ok || response.body === null) throw new Error(`GET ${url}: HTTP ${response.status}`);
  const reader = response.body.getReader({ mode: 'byob' });
  let buffer = new ArrayBuffer(CHUNK_BYTES);
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (value !== undefined) {
      buffer = value.buffer;
      bytes += value.byteLength;
    }
    if (done) break;
  }
  return { ms: performance.now() - started, bytes };
}

const api = { md5Stream, sha256Stream, otakitDownload, fetchBaseline };
export type BenchPage = typeof api;

declare global {
  /** Set by the bundle of bench/support/browser-page.ts once loaded in the page. */
  var otakitBench: BenchPage | undefined;
}

globalThis.otakitBench = api;
