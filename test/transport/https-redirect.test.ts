import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaultServer, type FaultServer } from '../../src/testing/index.js';
import { bundled } from '../support/bundle.js';

const run = promisify(execFile);
const TLS = join(import.meta.dirname, '../fixtures/tls');
const CLIENT = join(import.meta.dirname, '../support/https-download-client.ts');
const BODY = new Uint8Array(100_000).map((_, index) => index & 0xff);

let plain: FaultServer;
let https: Server;
let httpsUrl: string;

beforeAll(async () => {
  plain = await createFaultServer();
  plain.route('/fw.bin', { body: BODY });
  // A real TLS server on loopback: serves the artifact, or redirects to plain HTTP.
  https = createServer(
    { cert: readFileSync(join(TLS, 'cert.pem')), key: readFileSync(join(TLS, 'key.pem')) },
    (request, response) => {
      if (request.url === '/downgrade') {
        response.writeHead(302, { location: `${plain.url}/fw.bin?dk=KEY-123` }).end();
        return;
      }
      response.writeHead(200, { 'content-length': String(BODY.length) }).end(BODY);
    },
  );
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  httpsUrl = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await plain.close();
  await new Promise<void>((resolve) => https.close(() => resolve()));
});

async function download(
  url: string,
): Promise<{ ok: boolean; size?: number; error?: { code: string; message: string } }> {
  const { stdout } = await run(process.execPath, [await bundled(CLIENT), url], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: join(TLS, 'cert.pem') },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('https against a real TLS server on loopback', () => {
  it('downloads over https', async () => {
    expect(await download(`${httpsUrl}/fw.bin`)).toEqual({ ok: true, size: BODY.length });
  });

  it('refuses a redirect from https to http, before any request reaches the http server', async () => {
    const result = await download(`${httpsUrl}/downgrade`);
    expect(result.ok).toBe(false);
    expect(result.error?.code).toBe('TRANSPORT');
    expect(result.error?.message).toMatch(/refusing a redirect from https to http/);
    expect(result.error?.message).toContain('dk=***');
    expect(result.error?.message).not.toContain('KEY-123');
    expect(plain.stats('/fw.bin').requests).toBe(0);
  });
});
