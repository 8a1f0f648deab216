/**
 * The Connhex release endpoint over loopback HTTP, as the device sees it: the HEAD headers read
 * back with the protocol's own parser, the zip extracted by otakit's extractor, Range and If-Range
 * for a resumed download, keys (Thing and Bearer, never logged), no release as "no update",
 * per-device and per-firmware releases, and publishing through the generic publisher (PUT of
 * the release JSON, DELETE).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connhexPublisherChannel } from '../../src/cloud/connhex-publisher-channel.js';
import { createUpdatePublisher } from '../../src/cloud/publisher.js';
import { connhex, httpChannel, type Logger } from '../../src/index.js';
import { extractArchive } from '../../src/node/archive/extract.js';
import {
  type ConnhexReleaseServer,
  startConnhexReleaseServer,
} from '../../src/node/cloud/connhex-release-server.js';
import { ConnhexReleases } from '../../src/node/cloud/connhex-releases.js';
import { writeZip } from '../../src/node/cloud/zip-writer.js';

const KEY = 'thing-key-5b1f0c9e2a';
const OTHER_KEY = 'thing-key-of-edge-2';
const TOKEN = 'publisher-token-7c4d1e8f';
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Extracts `zip` with otakit's extractor (which reads a file or a stream). */
async function extract(zip: Uint8Array, directory: string) {
  const file = `${directory}.zip`;
  await writeFile(file, zip);
  return extractArchive(file, directory);
}

describe('Connhex release endpoint', () => {
  let root: string;
  let endpoint: ConnhexReleaseServer;
  const logged: string[] = [];
  const logger: Logger = {
    debug: (message, context) => logged.push(`${message} ${JSON.stringify(context)}`),
    info: (message, context) => logged.push(`${message} ${JSON.stringify(context)}`),
    warn: (message, context) => logged.push(`${message} ${JSON.stringify(context)}`),
    error: (message, context) => logged.push(`${message} ${JSON.stringify(context)}`),
  };
  const device = (initId = 'edge-1') => `${endpoint.url}/iot/ota/${initId}`;
  const thing = (key = KEY) => ({ authorization: `Thing ${key}` });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'otakit-connhex-release-'));
    endpoint = await startConnhexReleaseServer({
      keys: { 'edge-1': KEY, 'edge-2': OTHER_KEY },
      publisherToken: TOKEN,
      logger,
    });
  });
  afterEach(() => {
    for (const release of endpoint.releases.list()) {
      const { scope } = release;
      endpoint.releases.withdraw(
        scope.kind === 'device'
          ? { initId: scope.initId }
          : scope.kind === 'firmware'
            ? { firmwareId: scope.firmwareId }
            : {},
      );
    }
  });
  afterAll(async () => {
    await endpoint.close();
    await rm(root, { recursive: true, force: true });
    // No request line, whatever it was, carries a key or the publisher token.
    expect(logged.join('\n')).not.toMatch(new RegExp(`${KEY}|${OTHER_KEY}|${TOKEN}`));
  });

  it('writes zips otakit extracts: stored and deflated entries, update.sh executable, same files → same bytes', async () => {
    const files = [
      { name: 'update.sh', data: '#!/bin/sh\necho hi\n' },
      { name: 'app/big.txt', data: 'a'.repeat(50_000), method: 'deflate' as const },
      { name: 'app/raw.bin', data: new Uint8Array([1, 2, 3]), method: 'store' as const },
    ];
    const zip = writeZip(files);
    expect(writeZip(files)).toEqual(zip);
    expect(zip.length).toBeLessThan(10_000); // the big file was deflated
    const out = join(root, 'extracted');
    const result = await extract(zip, out);
    expect(result.format).toBe('zip');
    expect(await readFile(join(out, 'app/big.txt'), 'utf8')).toBe('a'.repeat(50_000));
    expect([...(await readFile(join(out, 'app/raw.bin')))]).toEqual([1, 2, 3]);
    expect((await stat(join(out, 'update.sh'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(out, 'app/raw.bin'))).mode & 0o777).toBe(0o644);
    expect((await readdir(out)).sort()).toEqual(['app', 'update.sh']);
    expect(() => writeZip([{ name: '/etc/passwd', data: '' }])).toThrow(/relative/);
    expect(() =>
      writeZip([
        { name: 'a', data: '' },
        { name: 'a', data: '' },
      ]),
    ).toThrow(/twice/);
  });

  it('HEAD answers the headers the device decides on; GET the zip with that digest', async () => {
    const release = endpoint.releases.publish({
      version: '1.4.0',
      files: { 'app.py': 'print(1)\n' },
      updateScript: '#!/bin/sh\nexit 0\n',
    });
    const head = await fetch(device(), { method: 'HEAD', headers: thing() });
    expect(head.status).toBe(200);
    expect(head.headers.get('version')).toBe('"1.4.0"');
    expect(head.headers.get('content-digest')).toMatch(/^sha-256=:[A-Za-z0-9+/]+=*:$/);
    const metadata = connhex.parseReleaseHeaders(head.headers, { requireDigest: true });
    expect(metadata).toMatchObject({
      version: '1.4.0',
      size: release.bytes!.length,
      sha256: release.metadata.sha256,
    });
    // The device's own decision on that answer: an update, with its digest.
    const decision = connhex.decideUpdate({ status: 200, headers: head.headers }, '1.3.0', {
      requireDigest: true,
    });
    expect(decision.kind).toBe('available');

    const get = await fetch(device(), { headers: thing() });
    const body = new Uint8Array(await get.arrayBuffer());
    expect(get.status).toBe(200);
    expect(sha256(body)).toBe(metadata.sha256);
    const entries = await extract(body, join(root, 'served'));
    expect(entries.entries.map((entry) => entry.path).sort()).toEqual(['app.py', 'update.sh']);
  });

  it('Range and If-Range resume the same file; a changed release is sent whole', async () => {
    const release = endpoint.releases.publish({
      version: '2.0.0',
      files: [{ name: 'payload.bin', data: new Uint8Array(4096).fill(7), method: 'store' }],
      updateScript: '#!/bin/sh\n',
    });
    const size = release.bytes!.length;
    const etag = release.metadata.etag!;
    const part = await fetch(device(), { headers: { ...thing(), range: 'bytes=100-', 'if-range': etag } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-${size - 1}/${size}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(release.bytes!.subarray(100));
    const beyond = await fetch(device(), { headers: { ...thing(), range: `bytes=${size}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${size}`);
    await beyond.arrayBuffer();
    const changed = await fetch(device(), {
      headers: { ...thing(), range: 'bytes=100-', 'if-range': '"old"' },
    });
    expect(changed.status).toBe(200);
    expect((await changed.arrayBuffer()).byteLength).toBe(size);
  });

  it('keys: Thing and Bearer with the device key pass; another device key, no key or a bad scheme get 401', async () => {
    endpoint.releases.publish({ version: '1.0.0', zip: writeZip([{ name: 'update.sh', data: '' }]) });
    const status = async (headers: Record<string, string>, initId = 'edge-1') =>
      (await fetch(device(initId), { method: 'HEAD', headers })).status;
    expect(await status(thing())).toBe(200);
    expect(await status({ authorization: `Bearer ${KEY}` })).toBe(200);
    expect(await status(thing(OTHER_KEY))).toBe(401);
    expect(await status({})).toBe(401);
    expect(await status({ authorization: `Basic ${KEY}` })).toBe(401);
    expect(await status(thing(KEY), 'edge-unknown')).toBe(401);
    expect(await status(thing(OTHER_KEY), 'edge-2')).toBe(200);
  });

  it('no release is "no update": 404 on a device endpoint, 204 on an artifact endpoint; withdrawing goes back to it', async () => {
    const head = () => fetch(device(), { method: 'HEAD', headers: thing() });
    expect((await head()).status).toBe(404);
    endpoint.releases.publish({ version: '1.0.0', zip: writeZip([{ name: 'update.sh', data: '' }]) });
    expect((await head()).status).toBe(200);
    expect(endpoint.releases.withdraw()).toBe(true);
    const answer = await head();
    expect(answer.status).toBe(404);
    // What the device makes of it: no order, not a failed check.
    const target = { baseUrl: endpoint.url, allowHttp: true, initId: 'edge-1' };
    const decoded = connhex.protocol.device.decodeOrder(
      { address: device(), payload: '', status: answer.status, headers: {} },
      { target },
    );
    expect(decoded.value).toBeNull();
    const artifact = `${endpoint.url}/iot/firmwares/fw-a/artifact`;
    expect((await fetch(artifact, { method: 'HEAD', headers: thing() })).status).toBe(204);
  });

  it('per-device and per-firmware releases: the device one wins over the fleet one; Version selects on the artifact endpoint', async () => {
    const update = writeZip([{ name: 'update.sh', data: '' }]);
    endpoint.releases.publish({ version: '1.0.0', zip: update });
    endpoint.releases.publish({ version: '1.1.0-rc1', zip: update, initId: 'edge-2' });
    endpoint.releases.publish({ version: '3.0.0', zip: update, firmwareId: 'fw-a' });
    const version = async (url: string, headers: Record<string, string>) =>
      (await fetch(url, { method: 'HEAD', headers })).headers.get('version');
    expect(await version(device('edge-1'), thing())).toBe('"1.0.0"');
    expect(await version(device('edge-2'), thing(OTHER_KEY))).toBe('"1.1.0-rc1"');
    const artifact = `${endpoint.url}/iot/firmwares/fw-a/artifact`;
    expect(await version(artifact, thing())).toBe('"3.0.0"');
    const same = await fetch(artifact, { method: 'HEAD', headers: { ...thing(), version: '3.0.0' } });
    expect(same.status).toBe(204);
  });

  it('publishes through createUpdatePublisher: PUT of the release JSON (own package or another URL), DELETE; the publisher token is required', async () => {
    const { sha256: digest, size } = endpoint.releases.addPackage({
      files: { 'app.py': 'print(2)\n' },
      updateScript: '#!/bin/sh\n',
    });
    const target = { baseUrl: endpoint.url, allowHttp: true, initId: 'edge-1' };
    const http = connhexPublisherChannel(httpChannel({ timeoutMs: 10_000 }), TOKEN);
    const publisher = createUpdatePublisher({ protocol: connhex.protocol, channels: { http } });
    const manifest = {
      id: '5.0.0',
      version: '5.0.0',
      artifacts: [{ url: device(), sha256: digest, size, target: 'package' as const }],
    };
    const { lost } = await publisher.publish(target, manifest);
    expect(lost).toEqual([]);
    const head = await fetch(device(), { method: 'HEAD', headers: thing() });
    expect(connhex.parseReleaseHeaders(head.headers)).toMatchObject({
      version: '5.0.0',
      sha256: digest,
      size,
    });

    // A zip that lives elsewhere: HEAD from the JSON, GET redirects there.
    const elsewhere = { ...manifest, id: '5.0.1', version: '5.0.1' };
    elsewhere.artifacts = [{ ...manifest.artifacts[0]!, url: 'https://cdn.example.com/r/5.0.1.zip' }];
    await publisher.publish(target, elsewhere);
    const get = await fetch(device(), { headers: thing(), redirect: 'manual' });
    expect(get.status).toBe(302);
    expect(get.headers.get('location')).toBe('https://cdn.example.com/r/5.0.1.zip');
    expect(get.headers.get('version')).toBe('"5.0.1"');

    // A package the endpoint does not have is refused, and the token is required.
    await expect(
      publisher.publish(target, {
        ...manifest,
        artifacts: [{ ...manifest.artifacts[0]!, sha256: 'f'.repeat(64) }],
      }),
    ).rejects.toThrow(/HTTP 409/);
    const anonymous = createUpdatePublisher({
      protocol: connhex.protocol,
      channels: { http: httpChannel({ timeoutMs: 10_000 }) },
    });
    await expect(anonymous.publish(target, manifest)).rejects.toThrow(/HTTP 401/);
    await expect(anonymous.withdraw(target)).rejects.toThrow(/HTTP 401/);

    await publisher.withdraw(target);
    expect((await fetch(device(), { method: 'HEAD', headers: thing() })).status).toBe(404);
  });

  it('a publish swaps the release whole: a download under way finishes with the release it started', async () => {
    const releases = new ConnhexReleases();
    const first = releases.publish({ version: '1', files: { 'update.sh': '#!/bin/sh\n' } });
    const held = releases.forDevice('any');
    releases.publish({ version: '2', files: { 'update.sh': '#!/bin/sh\necho 2\n' } });
    expect(held).toBe(first);
    expect(held?.metadata.version).toBe('1');
    expect(releases.forDevice('any')?.metadata.version).toBe('2');
    expect(() => releases.publish({ version: '3', files: { 'app.py': '' } })).toThrow(/no update\.sh/);
    expect(() => releases.publish({ version: 'bad\nversion', files: { 'update.sh': '' } })).toThrow(
      /version/i,
    );
  });
});
