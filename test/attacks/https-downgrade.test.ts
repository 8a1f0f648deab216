/**
 * Attack: https→http redirect. The artifact is served over https (a real TLS server on loopback,
 * with the self-signed test certificate the device is told to trust), but answers with a redirect
 * to plain http, where a man in the middle could serve anything (and read credentials). Refused by
 * the download (src/transport/download.ts, through the real file download hook and node fetch)
 * before any request reaches the http server: `TRANSPORT`, the query credential redacted.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/core/errors.js';
import { createNodeFetch } from '../../src/node/node-fetch.js';
import {
  artifactServer,
  cleanup,
  device,
  encode,
  expectNothingInstalled,
  expectRefused,
  keys3,
  rootOf,
  sha256,
  sign,
  snapshot,
} from './harness.js';

const TLS = join(import.meta.dirname, '../fixtures/tls');
const CERT = readFileSync(join(TLS, 'cert.pem'));
const KEY = readFileSync(join(TLS, 'key.pem'));
const BODY = encode('genuine firmware over https\n');
const SECRET = 'DK-downgrade-S3cret';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await cleanup();
});

async function httpsServer(redirectTo: string): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer({ cert: CERT, key: KEY }, (request, response) => {
    requests.push(request.url ?? '');
    if (request.url?.startsWith('/downgrade')) {
      response.writeHead(302, { location: redirectTo }).end();
      return;
    }
    response.writeHead(200, { 'content-length': String(BODY.length) }).end(BODY);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe('attack: https→http redirect', () => {
  it('a signed https artifact redirected to http is refused; the http server gets no request', async () => {
    const [key] = await keys3();
    const plain = await artifactServer();
    plain.route('/fw.bin', { body: BODY });
    const tls = await httpsServer(`${plain.url}/fw.bin?dk=${SECRET}`);
    const rig = await device({
      trust: { root: rootOf([key], 1) },
      download: { fetch: createNodeFetch({ tls: { ca: CERT } }) },
    });
    // Control: the same device downloads over https from this server (the certificate is trusted).
    const good = await sign(
      {
        id: 'fw-ok',
        version: '1.5.0',
        artifacts: [
          { url: `${tls.url}/fw.bin`, target: 'firmware', size: BODY.length, sha256: sha256(BODY) },
        ],
      },
      [key],
    );
    expect((await rig.machine.apply(good)).state).toBe('committed');
    rig.before = await snapshot(rig.target);
    rig.calls.installHook = 0;
    rig.calls.installerInstall = 0;

    const order = await sign(
      {
        id: 'fw-2',
        version: '2.0.0',
        artifacts: [
          { url: `${tls.url}/downgrade`, target: 'firmware', size: BODY.length, sha256: sha256(BODY) },
        ],
      },
      [key],
    );
    const error = expectRefused(rig, await rig.machine.apply(order), {
      state: 'download_failed',
      code: 'TRANSPORT',
      type: TransportError,
      names: /refusing a redirect from https to http/,
    });
    expect(error.message).toContain('dk=***');
    expect(error.message).not.toContain(SECRET);
    expect(tls.requests).toContain('/downgrade');
    expect(plain.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });
});
