/**
 * otakit's root entry in a real Chromium (headless, Debian's `chromium`, driven by playwright-core).
 * test/browser-bundle.test.ts proves the entry bundles for the browser; this file RUNS the bundle:
 * Chrome's own fetch and byte streams, the web hashes, the download engine's BYOB path, resume
 * with Range after a dropped connection, and a device machine updating through to `committed`.
 *
 * One origin serves everything, so no CORS is involved: a node:http server on 127.0.0.1 answers
 * the page and the bundle itself and passes every other request through to otakit's fault server
 * (src/testing), whose counters show what the browser really asked for. A connection the fault
 * server drops is dropped towards the browser too.
 *
 * Chromium comes from the system (`apt-get install chromium`; .ci/run installs it in CI), or from
 * CHROMIUM_PATH. Without it the file skips locally and fails in CI (CI set).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateSnapshotSchema } from '../../src/index.js';
import { createFaultServer, type FaultServer } from '../../src/testing/index.js';
import {
  bundleForBrowser,
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  HAVE_CHROMIUM,
  pageHtml,
} from '../support/chromium.js';

const IN_CI = Boolean(process.env.CI);
const MISSING = `no Chromium at ${CHROMIUM_PATH} (install it with \`apt-get install chromium\`, or set CHROMIUM_PATH)`;

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** The strong ETag the fault server derives from a body. */
const etagOf = (bytes: Uint8Array) => `"${sha256(bytes).slice(0, 32)}"`;

interface Artifact {
  path: string;
  body: Uint8Array;
  md5: string;
  sha256: string;
}

function artifact(path: string, body: Uint8Array): Artifact {
  return { path, body, md5: md5(body), sha256: sha256(body) };
}

/** ~5 MB, an odd size so the last read is a partial buffer. */
const BIG = artifact('/artifacts/app.bin', new Uint8Array(randomBytes(5 * 1024 * 1024 + 4321)));
const TAMPERED_BODY = BIG.body.slice();
TAMPERED_BODY[1_234_567] = (TAMPERED_BODY[1_234_567]! + 1) & 0xff;
const TAMPERED = artifact('/artifacts/tampered.bin', TAMPERED_BODY);
const DROP_AFTER = 2_000_000;
const FIRMWARE = artifact('/fw/app-1.1.0.bin', new Uint8Array(randomBytes(1024 * 1024 + 17)));
const FIRMWARE_DROP_AFTER = 300_000;

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
];

function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out = { ...headers };
  for (const name of HOP_BY_HOP) delete out[name];
  return out;
}

/**
 * The page's origin: serves the page and the bundle, and passes everything else to `upstream`
 * (the fault server), streaming, with a dropped upstream connection dropped downstream too.
 */
async function startOrigin(bundle: string, upstream: FaultServer): Promise<{ server: Server; url: string }> {
  const upstreamUrl = new URL(upstream.url);
  const agent = new Agent({ keepAlive: false });
  const pass = (request: IncomingMessage, response: ServerResponse) => {
    const outgoing = httpRequest(
      {
        host: upstreamUrl.hostname,
        port: upstreamUrl.port,
        method: request.method,
        path: request.url,
        headers: withoutHopByHop(request.headers),
        agent,
      },
      (incoming) => {
        response.writeHead(incoming.statusCode ?? 502, withoutHopByHop(incoming.headers));
        incoming.pipe(response);
        incoming.on('error', () => response.destroy());
        incoming.on('close', () => {
          if (!incoming.complete) response.destroy();
        });
      },
    );
    outgoing.on('error', () => response.destroy());
    response.on('close', () => outgoing.destroy());
    request.pipe(outgoing);
  };
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://origin').pathname;
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(pageHtml('otakit in Chromium', '/otakit-page.js'));
    } else if (path === '/otakit-page.js') {
      response.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'no-store',
      });
      response.end(bundle);
    } else {
      pass(request, response);
    }
  });
  server.on('close', () => agent.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

if (!HAVE_CHROMIUM) {
  if (IN_CI) {
    describe('otakit in a real Chromium', () => {
      it('has Chromium to run in (CI must run the browser tests)', () => {
        throw new Error(`${MISSING}. .ci/run apt-installs chromium when CI is set: see its warnings.`);
      });
    });
  } else {
    console.warn(`test/browser/chromium.test.ts skipped: ${MISSING}`);
  }
}

describe.skipIf(!HAVE_CHROMIUM)(
  `otakit in a real Chromium${HAVE_CHROMIUM ? '' : ` (skipped: ${MISSING})`}`,
  () => {
    let fault: FaultServer | undefined;
    let origin: { server: Server; url: string } | undefined;
    let browser: Browser | undefined;
    let page: Page;
    const pageErrors: string[] = [];
    const consoleErrors: { text: string; url: string }[] = [];

    beforeAll(async () => {
      const [bundle, server] = await Promise.all([
        bundleForBrowser('test/browser/page.ts'),
        createFaultServer(),
      ]);
      fault = server;
      fault.route(BIG.path, { body: BIG.body });
      fault.route('/artifacts/probe.bin', { body: BIG.body });
      fault.route(TAMPERED.path, { body: TAMPERED.body });
      fault.route('/artifacts/dropped.bin', { body: BIG.body, drop: { afterBytes: DROP_AFTER, times: 1 } });
      fault.route(FIRMWARE.path, {
        body: FIRMWARE.body,
        drop: { afterBytes: FIRMWARE_DROP_AFTER, times: 1 },
      });
      origin = await startOrigin(bundle, fault);
      browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
      page = await browser.newPage();
      page.on('pageerror', (error) => pageErrors.push(`${error.name}: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error')
          consoleErrors.push({ text: message.text(), url: message.location().url });
      });
      await page.goto(`${origin.url}/`);
      await page.waitForFunction(() => globalThis.otakitPage !== undefined, undefined, { timeout: 10_000 });
    });

    afterAll(async () => {
      await browser?.close();
      if (origin) {
        origin.server.closeAllConnections();
        const { server } = origin;
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await fault?.close();
    });

    it("reads Chrome's fetch body with a BYOB reader (the body is a byte stream)", async () => {
      const probe = await page.evaluate(
        (url) => globalThis.otakitPage!.byobProbe(url),
        `${origin!.url}/artifacts/probe.bin`,
      );
      expect(probe).toMatchObject({ byob: true, error: null });
      expect(probe.firstRead).toBeGreaterThan(0);
    });

    it('downloads a 5 MB artifact into a MemorySink, through the BYOB path, with md5 and sha256 checked', async () => {
      const report = await page.evaluate(
        ({ url, expected }) => globalThis.otakitPage!.download(url, expected),
        {
          url: `${origin!.url}${BIG.path}`,
          expected: { size: BIG.body.length, md5: BIG.md5, sha256: BIG.sha256 },
        },
      );
      if (!report.ok) throw new Error(`download failed in the page: ${report.error.message}`);
      expect(report.result).toMatchObject({
        size: BIG.body.length,
        md5: BIG.md5,
        sha256: BIG.sha256,
        attempts: 1,
        resumedFrom: 0,
        bytesTransferred: BIG.body.length,
        validators: { etag: etagOf(BIG.body) },
      });
      // The bytes held, hashed by WebCrypto in the page, independently of the engine's hashes.
      expect(report.sinkLength).toBe(BIG.body.length);
      expect(report.sinkSha256).toBe(BIG.sha256);
      // The engine took a BYOB reader on the body (the one-reused-buffer path), and only that.
      expect(report.readerModes).toEqual(['byob']);
      expect(fault!.stats(BIG.path)).toMatchObject({ requests: 1, ranges: [null] });
    });

    it('rejects a tampered artifact with an INTEGRITY error naming both digests, and drops the bytes', async () => {
      const report = await page.evaluate(
        ({ url, expected }) => globalThis.otakitPage!.download(url, expected),
        // The manifest promises the original bytes; the server sends one byte changed.
        { url: `${origin!.url}${TAMPERED.path}`, expected: { size: BIG.body.length, md5: BIG.md5 } },
      );
      if (report.ok) throw new Error('the tampered artifact was accepted');
      expect(report.error).toMatchObject({ name: 'IntegrityError', code: 'INTEGRITY', integrity: true });
      expect(report.error.message).toContain('md5 mismatch');
      expect(report.error.message).toContain(`expected ${BIG.md5}`);
      expect(report.error.message).toContain(`got ${TAMPERED.md5}`);
      expect(report.sinkLength).toBe(0);
      // Not retried: an integrity failure is final.
      expect(fault!.stats(TAMPERED.path).requests).toBe(1);
    });

    it('resumes a connection dropped mid-body with Range (and If-Range), ending with the right digests', async () => {
      const path = '/artifacts/dropped.bin';
      const report = await page.evaluate(
        ({ url, expected }) => globalThis.otakitPage!.download(url, expected),
        {
          url: `${origin!.url}${path}`,
          expected: { size: BIG.body.length, md5: BIG.md5, sha256: BIG.sha256 },
        },
      );
      if (!report.ok) throw new Error(`download failed in the page: ${report.error.message}`);
      expect(report.result).toMatchObject({
        size: BIG.body.length,
        md5: BIG.md5,
        sha256: BIG.sha256,
        attempts: 2,
      });
      expect(report.sinkSha256).toBe(BIG.sha256);
      expect(report.readerModes).toEqual(['byob', 'byob']);

      const stats = fault!.stats(path);
      expect(stats.requests).toBe(2);
      expect(stats.ranges[0]).toBeNull();
      const resumedAt = Number(/^bytes=(\d+)-$/.exec(stats.ranges[1] ?? '')?.[1]);
      expect(resumedAt, `second request's Range: ${stats.ranges[1]}`).toBeGreaterThan(0);
      expect(resumedAt).toBeLessThanOrEqual(DROP_AFTER);
      expect(stats.headers[1]?.['if-range']).toBe(etagOf(BIG.body));
      // Only the missing tail went over the wire again.
      expect(stats.bytesSent).toBe(DROP_AFTER + BIG.body.length - resumedAt);
      expect(report.result.bytesTransferred).toBe(BIG.body.length);
    });

    it('runs a device machine (MemoryStore, hooks, real downloads) through to committed, a tracker following', async () => {
      const manifest = {
        id: 'u-browser',
        version: '1.1.0',
        artifacts: [
          {
            url: `${origin!.url}${FIRMWARE.path}`,
            size: FIRMWARE.body.length,
            md5: FIRMWARE.md5,
            sha256: FIRMWARE.sha256,
            target: 'firmware',
            name: 'app',
          },
        ],
      };
      const report = await page.evaluate((input) => globalThis.otakitPage!.deviceUpdate(input), manifest);

      expect(report.outcome).toEqual({
        state: 'committed',
        update: { id: 'u-browser', version: '1.1.0' },
        error: null,
        rebootRequired: false,
      });
      expect(report.transitions).toEqual([
        'idle->available',
        'available->downloading',
        'downloading->downloaded',
        'downloaded->verifying',
        'verifying->installing',
        'installing->installed',
        'installed->committed',
        'committed->idle',
      ]);
      expect(report.snapshotValid, report.snapshotIssues.join('; ')).toBe(true);
      expect(UpdateSnapshotSchema.parse(report.snapshot)).toMatchObject({
        role: 'device',
        state: 'idle',
        current: { id: 'u-browser', version: '1.1.0' },
        lastOutcome: { state: 'committed' },
        lastError: null,
      });
      expect(report.snapshot.history.map((entry) => entry.to)).toContain('committed');
      expect(report.persistedState).toBe('idle');
      expect(report.log).toEqual(['download:1', 'download:2', 'install', 'healthCheck', 'commit']);
      expect(report.lastProgress).toEqual({ bytes: FIRMWARE.body.length, total: FIRMWARE.body.length });
      expect(report.flashed).toEqual([
        { location: 'memory:app', size: FIRMWARE.body.length, sha256: FIRMWARE.sha256 },
      ]);

      // The first attempt lost its connection; the machine retried the hook, which resumed.
      expect(report.downloadCalls.map(({ attempt, resume }) => ({ attempt, resume }))).toEqual([
        { attempt: 1, resume: false },
        { attempt: 2, resume: true },
      ]);
      expect(report.downloadCalls[1]?.checkpoint).toEqual({
        validators: [{ etag: etagOf(FIRMWARE.body) }],
      });
      const stats = fault!.stats(FIRMWARE.path);
      expect(stats.requests).toBe(2);
      expect(stats.ranges[0]).toBeNull();
      // The retry asks for the rest when bytes before the drop reached the page. On a loaded
      // machine the reset can discard them in flight (CI saw it once); then the retry rightly
      // starts over, without Range or If-Range (as test/device/connhex-agent.test.ts allows).
      if (stats.ranges[1] === null) {
        expect(stats.headers[1]?.['if-range']).toBeUndefined();
      } else {
        expect(stats.ranges[1]).toMatch(/^bytes=[1-9]\d*-$/);
        expect(stats.headers[1]?.['if-range']).toBe(etagOf(FIRMWARE.body));
      }

      // The tracker saw every status as JSON and ended where the device did.
      expect(report.trackerRefusals).toEqual([]);
      expect(report.trackerTransitions).toEqual(report.transitions);
      expect(report.trackerValid).toBe(true);
      expect(UpdateSnapshotSchema.parse(report.trackerSnapshot)).toMatchObject({
        role: 'tracker',
        state: 'idle',
        current: { id: 'u-browser', version: '1.1.0' },
        lastOutcome: { state: 'committed' },
      });
    });

    it('raised no uncaught page error, and logged no console error but the two planned drops', () => {
      expect(pageErrors).toEqual([]);
      // Chrome logs each failed load itself ("Failed to load resource: net::ERR_…"): exactly one
      // for each connection the fault server dropped on purpose, and nothing else.
      const dropped = new Set([`${origin!.url}/artifacts/dropped.bin`, `${origin!.url}${FIRMWARE.path}`]);
      const planned = (error: { text: string; url: string }) =>
        dropped.has(error.url) && /^Failed to load resource: net::ERR_[A-Z_]+$/.test(error.text);
      expect(consoleErrors.filter((error) => !planned(error))).toEqual([]);
      expect(consoleErrors.map((error) => error.url).sort()).toEqual([...dropped].sort());
    });
  },
);
