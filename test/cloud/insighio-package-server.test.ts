/**
 * The insigh.io package server of otakit/node on loopback, with plain `fetch`: the platform's
 * download path and query, the device-key check (and no key in any log line), byte ranges with
 * `If-Range`, and the refusals (unknown file id, another path, method, malformed query).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryPackageStore } from '../../src/cloud/insighio/package-store.js';
import type { Logger } from '../../src/core/logger.js';
import {
  type InsighIoPackageServer,
  startInsighIoPackageServer,
} from '../../src/node/cloud/insighio-package-server.js';
import { downloadUrl } from '../../src/protocols/insighio/urls.js';

const KEY = 'k3y/with?odd&chars=S3cret';
const DEVICE = 'dev-1';
const CC = 'cc-1';
const BODY = Uint8Array.from({ length: 3000 }, (_, index) => index % 251);
const logs: string[] = [];
const logger: Logger = {
  debug: (message, context) => logs.push(`${message} ${JSON.stringify(context)}`),
  info: (message, context) => logs.push(`${message} ${JSON.stringify(context)}`),
  warn: (message, context) => logs.push(`${message} ${JSON.stringify(context)}`),
  error: (message, context) => logs.push(`${message} ${JSON.stringify(context)}`),
};

let server: InsighIoPackageServer;
const url = (overrides: { fileId?: string; deviceKey?: string; deviceId?: string } = {}) =>
  downloadUrl(
    {
      fileId: overrides.fileId ?? 'fa8884d2',
      deviceId: overrides.deviceId ?? DEVICE,
      deviceKey: overrides.deviceKey ?? KEY,
      controlChannelId: CC,
    },
    { baseUrl: server.baseUrl, allowInsecureHttp: true },
  ).href;

beforeAll(async () => {
  const packages = new MemoryPackageStore();
  await packages.put('fa8884d2', BODY);
  server = await startInsighIoPackageServer({
    packages,
    deviceKey: ({ deviceId, controlChannelId }) =>
      deviceId === DEVICE && controlChannelId === CC ? KEY : undefined,
    logger,
  });
});
afterAll(async () => {
  await server.close();
  expect(logs.length).toBeGreaterThan(0);
  for (const line of logs) {
    expect(line).not.toContain('S3cret');
    expect(line).not.toContain(encodeURIComponent(KEY));
  }
});

describe('startInsighIoPackageServer', () => {
  it('serves the package at <base>/packages/download?fuid&did&dk&cid with an ETag and no caching', async () => {
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mf-rproxy$/);
    const response = await fetch(url());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe('3000');
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(BODY);
  });

  it('HEAD: the headers without the body', async () => {
    const response = await fetch(url(), { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe('3000');
  });

  it.each([
    ['bytes=1000-', 1000, 2999],
    ['bytes=1000-1999', 1000, 1999],
    ['bytes=-500', 2500, 2999],
    ['bytes=2990-99999', 2990, 2999],
  ])('Range %s → 206 with the bytes asked for', async (range, start, end) => {
    const response = await fetch(url(), { headers: { range } });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe(`bytes ${start}-${end}/3000`);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(BODY.subarray(start, end + 1));
  });

  it('If-Range: the matching ETag resumes (206); another one gets the whole file (200)', async () => {
    const etag = (await fetch(url(), { method: 'HEAD' })).headers.get('etag')!;
    const same = await fetch(url(), { headers: { range: 'bytes=100-', 'if-range': etag } });
    expect(same.status).toBe(206);
    await same.arrayBuffer();
    const other = await fetch(url(), { headers: { range: 'bytes=100-', 'if-range': '"another"' } });
    expect(other.status).toBe(200);
    expect((await other.arrayBuffer()).byteLength).toBe(3000);
  });

  it('a range past the end → 416 with the size; several ranges → the whole file', async () => {
    const beyond = await fetch(url(), { headers: { range: 'bytes=3000-' } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe('bytes */3000');
    const several = await fetch(url(), { headers: { range: 'bytes=0-1,5-6' } });
    expect(several.status).toBe(200);
    await several.arrayBuffer();
  });

  it('a wrong key, an unknown device and a key of another length are all 403, before the file id is looked at', async () => {
    for (const href of [
      url({ deviceKey: `${KEY}x` }),
      url({ deviceKey: 'short' }),
      url({ deviceId: 'dev-unknown' }),
      url({ deviceKey: 'wrong', fileId: 'unknown' }),
    ]) {
      expect((await fetch(href)).status).toBe(403);
    }
  });

  it('an unknown file id is 404 (for a device with the right key)', async () => {
    expect((await fetch(url({ fileId: 'f0000000' }))).status).toBe(404);
  });

  it('another path, another method, a malformed query: 404, 405, 400', async () => {
    const good = new URL(url());
    expect((await fetch(`${good.origin}/other/packages/download${good.search}`)).status).toBe(404);
    const post = await fetch(url(), { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${url()}&extra=1`)).status).toBe(400);
    expect((await fetch(url().replace(/&cid=[^&]+/, ''))).status).toBe(400);
    expect((await fetch(url().replace('fuid=fa8884d2', 'fuid=..%2Fetc'))).status).toBe(400);
  });
});
