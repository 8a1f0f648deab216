/**
 * A signed Connhex release end to end: the cloud codec's release JSON (with `otakit_manifest`)
 * `PUT` to the real release server, which serves the statement at `<endpoint>.otakit.json`; the
 * real agent fetches it with its thing key in the check, before any download, and runs the signed
 * manifest. A server that serves the statement of another release gets nothing downloaded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import type { Manifest } from '../../src/manifest/schema.js';
import { createConnhexAgent } from '../../src/node/agents/connhex.js';
import { createConnhexReleaseHandler } from '../../src/node/cloud/connhex-release-server.js';
import { protocol } from '../../src/protocols/connhex/protocol.js';
import { resolveTarget } from '../../src/protocols/connhex/target.js';
import type { Channel } from '../../src/transport/channel.js';
import { until } from '../support/system-services.js';

const TOKEN = 'publisher-token-0123456789';
const KEY = 'thing-key-signed-5e1';
const SIGNATURE = {
  canonicalization: 'otakit-json-v1' as const,
  signatures: [{ keyId: 'release-key-1', algorithm: 'ed25519' as const, value: `${'D'.repeat(85)}Q==` }],
};

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A NATS channel that only records (the heartbeats are not under test here). */
const quietNats: Channel = { kind: 'nats', send: async () => undefined, listen: async () => async () => {} };

describe('a signed Connhex release: release server → agent', () => {
  it('runs the signed manifest; a statement of another release is refused and nothing downloaded', async () => {
    const handler = createConnhexReleaseHandler({ publisherToken: TOKEN, keys: { 'edge-s': KEY } });
    // The real handler, behind a switch that makes it serve a stale statement (a broken mirror).
    let stale: string | undefined;
    const seen: Array<{ method: string; url: string }> = [];
    const server: Server = createServer((request: IncomingMessage, response) => {
      seen.push({ method: request.method ?? '', url: request.url ?? '' });
      if (stale !== undefined && request.url?.endsWith('.otakit.json')) {
        response.writeHead(200, { 'content-type': 'application/json' }).end(stale);
        return;
      }
      handler(request, response);
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    cleanups.push(() =>
      new Promise((resolve) => server.close(resolve)).then(() => server.closeAllConnections()),
    );
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const target = { baseUrl, allowHttp: true, initId: 'edge-s', key: KEY };
    const { releaseUrl } = resolveTarget(target);

    const publish = async (version: string) => {
      const { sha256, size } = handler.releases.addPackage({
        files: { 'app.txt': `release ${version}\n` },
        updateScript: '#!/bin/sh\nexit 0\n',
      });
      const manifest: Manifest = {
        id: version,
        version,
        artifacts: [{ url: releaseUrl, target: 'package', size, sha256 }],
        minVersion: '1.0.0',
        signature: SIGNATURE,
      };
      const { value } = protocol.cloud.encodeOrder(manifest, target);
      const put = value[0]!;
      const answer = await fetch(put.address, {
        method: 'PUT',
        headers: { ...put.headers, authorization: `Bearer ${TOKEN}` },
        body: put.payload,
      });
      expect(answer.status).toBe(204);
      return manifest;
    };

    const root = await mkdtemp(join(tmpdir(), 'otakit-signed-connhex-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const agent = createConnhexAgent({
      target,
      nats: quietNats,
      installDirectory: join(root, 'edge'),
      stateDirectory: join(root, 'state'),
      currentVersion: '1.0.0',
      fsync: false,
      signedStatements: true,
      config: { autoInstall: true },
      poll: { intervalMs: 3_600_000 },
    });
    cleanups.push(() => agent.stop({ cancel: true }));
    const orders: Manifest[] = [];
    const outcomes: UpdateOutcome[] = [];
    const errors: unknown[] = [];
    agent.on('order', ({ manifest }) => orders.push(manifest));
    agent.on('outcome', (outcome) => outcomes.push(outcome));
    agent.on('error', (error) => errors.push(error));

    const v2 = await publish('2.0.0');
    const statement = await fetch(`${releaseUrl}.otakit.json`, {
      headers: { authorization: `Thing ${KEY}` },
    });
    expect(statement.status).toBe(200);
    expect((await fetch(`${releaseUrl}.otakit.json`)).status).toBe(401);
    await agent.start();
    await until(
      () => outcomes.length === 1,
      () => 'the signed release to finish',
      30_000,
    );
    expect(outcomes[0]).toMatchObject({ state: 'committed', update: { version: '2.0.0' } });
    expect(orders[0]).toMatchObject({ ...v2, extensions: { connhex: expect.any(Object) } });
    expect(orders[0]!.signature).toEqual(SIGNATURE);
    expect(orders[0]!.artifacts[0]!.sha256).toBe(v2.artifacts[0]!.sha256);
    const firstStatement = seen.findIndex(
      (request) => request.url.endsWith('/edge-s.otakit.json') && request.method === 'GET',
    );
    const firstDownload = seen.findIndex(
      (request) => request.url.endsWith('/edge-s') && request.method === 'GET',
    );
    expect(firstStatement).toBeGreaterThanOrEqual(0);
    expect(firstStatement).toBeLessThan(firstDownload);

    // v3 is published; the mirror still serves v2's statement.
    stale = JSON.stringify({ ...v2, extensions: undefined });
    await publish('3.0.0');
    const before = seen.length;
    await expect(agent.checkNow()).rejects.toSatisfy((error: unknown) =>
      isOtaError(error, 'MANIFEST_INVALID'),
    );
    const refused = errors.find((error) => isOtaError(error, 'MANIFEST_INVALID')) as unknown as {
      issues: Array<{ path: string }>;
    };
    expect(refused.issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining(['otakit_manifest.id', 'otakit_manifest.version']),
    );
    expect(
      seen.slice(before).filter((request) => request.method === 'GET' && request.url.endsWith('/edge-s')),
    ).toEqual([]);
    expect(outcomes).toHaveLength(1);
  }, 120_000);
});
