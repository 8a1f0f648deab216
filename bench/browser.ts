/**
 * Browser benchmark: otakit's root entry in a real headless Chromium (Debian's `chromium`, or
 * CHROMIUM_PATH, driven by playwright-core), each figure against a baseline measured in the same
 * page in the same run:
 * - createWebHash('md5') throughput (spark-md5) over 256 MiB fed in 256 KiB chunks, and
 *   createWebHash('sha256') (@noble/hashes) over a 64 MiB buffer against WebCrypto's one-shot
 *   `crypto.subtle.digest` of the same buffer (WebCrypto cannot hash a stream: the upper bound);
 * - downloadArtifact (browser fetch, BYOB reads, MD5 + SHA-256) of a 256 MiB artifact into a sink
 *   that only counts, against a bare `fetch` whose body a BYOB reader reads to the end, unhashed.
 *
 * One origin on 127.0.0.1 (a node:http server in this process) serves the page, the bundle and
 * the artifact, so no CORS is involved. Without Chromium the result is `{ skipped: 'no Chromium' }`.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import {
  bundleForBrowser,
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  HAVE_CHROMIUM,
  pageHtml,
} from '../test/support/chromium.js';
import type { BenchPage } from './support/browser-page.js';

const MiB = 2 ** 20;

/** Serves the page, its bundle, the artifact and a warm-up prefix of it; nothing is cacheable. */
async function startOrigin(bundle: string, artifact: Uint8Array, warmupBytes: number) {
  const routes = new Map<string, { type: string; body: string | Uint8Array }>([
    ['/', { type: 'text/html; charset=utf-8', body: pageHtml('otakit bench', '/bench-page.js') }],
    ['/bench-page.js', { type: 'text/javascript; charset=utf-8', body: bundle }],
    ['/artifact.bin', { type: 'application/octet-stream', body: artifact }],
    ['/warmup.bin', { type: 'application/octet-stream', body: artifact.subarray(0, warmupBytes) }],
  ]);
  const server = createServer((request, response) => {
    const route = routes.get(new URL(request.url ?? '/', 'http://origin').pathname);
    if (route === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, {
      'content-type': route.type,
      'content-length': String(Buffer.byteLength(route.body)),
      'cache-control': 'no-store',
    });
    response.end(route.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const mbps = (bytes: number, ms: number) => Number((bytes / 1e6 / (ms / 1000)).toFixed(1));
/** Measured throughput over the baseline's (both moved the same bytes): below 1 is slower. */
const ratio = (baselineMs: number, measuredMs: number) => Number((baselineMs / measuredMs).toFixed(3));
const best = (runs: number[]) => Math.min(...runs);

export interface BrowserBenchOptions {
  /** Bytes fed to createWebHash('md5'). @default 256 MiB */
  md5Bytes?: number;
  /** The buffer both SHA-256s hash. @default 64 MiB */
  sha256Bytes?: number;
  /** The downloaded artifact. @default 256 MiB */
  artifactBytes?: number;
  /** At most this many measured rounds (best one reported)... @default 3 */
  rounds?: number;
  /** ...and no new round when the last one's duration would take it past this budget. @default 40 s */
  budgetMs?: number;
}

export async function benchBrowser({
  md5Bytes = 256 * MiB,
  sha256Bytes = 64 * MiB,
  artifactBytes = 256 * MiB,
  rounds = 3,
  budgetMs = 40_000,
}: BrowserBenchOptions = {}) {
  if (!HAVE_CHROMIUM) return { skipped: 'no Chromium' as const };

  const artifact = randomFillSync(new Uint8Array(artifactBytes));
  const artifactMd5 = createHash('md5').update(artifact).digest('hex');
  const artifactSha256 = createHash('sha256').update(artifact).digest('hex');
  const warmupBytes = Math.min(32 * MiB, artifactBytes);

  let origin: { server: Server; url: string } | undefined;
  let browser: Browser | undefined;
  try {
    origin = await startOrigin(
      await bundleForBrowser('bench/support/browser-page.ts'),
      artifact,
      warmupBytes,
    );
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(`${error.name}: ${error.message}`));
    await page.goto(`${origin.url}/`);
    await page.waitForFunction(() => globalThis.otakitBench !== undefined, undefined, { timeout: 10_000 });
    const call = <K extends keyof BenchPage>(name: K, ...args: Parameters<BenchPage[K]>) =>
      page.evaluate(
        ({ name, args }) => (globalThis.otakitBench![name] as (...a: unknown[]) => unknown)(...args),
        { name, args: args as unknown[] },
      ) as Promise<Awaited<ReturnType<BenchPage[K]>>>;

    const artifactUrl = `${origin.url}/artifact.bin`;
    const download = async (url: string, bytes: number) => {
      const run = await call('otakitDownload', url, bytes);
      if (run.bytes !== bytes)
        throw new Error(`otakit download: the sink took ${run.bytes} of ${bytes} bytes`);
      return run;
    };
    const fetchOnly = async (url: string, bytes: number) => {
      const run = await call('fetchBaseline', url);
      if (run.bytes !== bytes) throw new Error(`fetch baseline: read ${run.bytes} of ${bytes} bytes`);
      return run;
    };

    // Warm up once (JIT, page faults, the connection), smaller, unmeasured.
    await call('md5Stream', 16 * MiB);
    await call('sha256Stream', 16 * MiB);
    await fetchOnly(`${origin.url}/warmup.bin`, warmupBytes);
    await download(`${origin.url}/warmup.bin`, warmupBytes);

    const runs = {
      md5Ms: [] as number[],
      sha256Ms: [] as number[],
      webCryptoSha256Ms: [] as number[],
      fetchBaselineMs: [] as number[],
      otakitDownloadMs: [] as number[],
    };
    const deadline = performance.now() + budgetMs;
    let lastRoundMs = 0;
    // The kinds take turns within each round, so none gets a quieter moment of the machine.
    for (let round = 0; round < rounds && performance.now() + lastRoundMs < deadline; round++) {
      const started = performance.now();
      runs.md5Ms.push((await call('md5Stream', md5Bytes)).ms);
      const sha = await call('sha256Stream', sha256Bytes);
      if (!sha.same) throw new Error('createWebHash(sha256) and WebCrypto disagree');
      runs.sha256Ms.push(sha.streamMs);
      runs.webCryptoSha256Ms.push(sha.webCryptoMs);
      runs.fetchBaselineMs.push((await fetchOnly(artifactUrl, artifactBytes)).ms);
      const otakit = await download(artifactUrl, artifactBytes);
      // A fast wrong answer is no result: every measured download must have the artifact's digests.
      if (otakit.md5 !== artifactMd5)
        throw new Error(`otakit download: MD5 ${otakit.md5}, not ${artifactMd5}`);
      if (otakit.sha256 !== artifactSha256) throw new Error('otakit download: wrong SHA-256');
      if (otakit.attempts !== 1) throw new Error(`otakit download took ${otakit.attempts} attempts`);
      runs.otakitDownloadMs.push(otakit.ms);
      lastRoundMs = performance.now() - started;
    }
    if (pageErrors.length > 0) throw new Error(`page errors: ${pageErrors.join('; ')}`);

    return {
      chromium: browser.version(),
      md5Bytes,
      sha256Bytes,
      artifactBytes,
      roundsMeasured: runs.md5Ms.length,
      md5MBps: mbps(md5Bytes, best(runs.md5Ms)),
      sha256MBps: mbps(sha256Bytes, best(runs.sha256Ms)),
      webCryptoSha256MBps: mbps(sha256Bytes, best(runs.webCryptoSha256Ms)),
      sha256RatioToWebCrypto: ratio(best(runs.webCryptoSha256Ms), best(runs.sha256Ms)),
      fetchBaselineMBps: mbps(artifactBytes, best(runs.fetchBaselineMs)),
      otakitDownloadMBps: mbps(artifactBytes, best(runs.otakitDownloadMs)),
      downloadRatioToFetch: ratio(best(runs.fetchBaselineMs), best(runs.otakitDownloadMs)),
      downloadMd5Checked: true,
      rounds: Object.fromEntries(
        Object.entries(runs).map(([name, times]) => [name, times.map((ms) => Number(ms.toFixed(1)))]),
      ),
    };
  } finally {
    await browser?.close().catch(() => {});
    if (origin) await closeServer(origin.server);
  }
}
