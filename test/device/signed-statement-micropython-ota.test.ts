/**
 * A signed micropython_ota release end to end: `publishRelease` with a signed manifest writes
 * `<project>/<version>.otakit.json` beside the files; the real server serves it; the real agent
 * fetches it in its check (same Basic auth) before any download, and its machine runs the signed
 * manifest (signature, SHA-256). A companion of another version is refused and nothing is
 * downloaded.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import { createTrustGate } from '../../src/machine/trust-gate.js';
import type { Manifest } from '../../src/manifest/schema.js';
import { signManifest } from '../../src/manifest/trust.js';
import {
  createMicropythonOtaAgent,
  type MicropythonOtaAgent,
} from '../../src/node/agents/micropython-ota.js';
import { publishRelease } from '../../src/node/cloud/micropython-ota-publish.js';
import {
  type FetchEvent,
  type StartedMicropythonOtaServer,
  startMicropythonOtaServer,
} from '../../src/node/cloud/micropython-ota-server.js';
import { toCanonical } from '../../src/protocols/micropython-ota/codec.js';
import { rootOf, testKeys } from '../security/keys.js';
import { until } from '../support/system-services.js';
import { readTree, writeTree } from './micropython-ota-support.js';

const AUTH = { user: 'otauser', password: 'pw-Signed-Secret-4' };
const PROJECT = 'app';
const FILENAMES = ['main.py', 'lib/util.py'];
const SIGNATURE = {
  canonicalization: 'otakit-json-v1' as const,
  signatures: [{ keyId: 'release-key-1', algorithm: 'ed25519' as const, value: `${'B'.repeat(85)}Q==` }],
};
const encode = (text: string) => new TextEncoder().encode(text);
const files = (version: string) => ({
  'main.py': encode(`print("${version}")\n`),
  'lib/util.py': encode(`util ${version}\n`),
});
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const directories: string[] = [];
const servers: StartedMicropythonOtaServer[] = [];
const agents: MicropythonOtaAgent[] = [];
afterEach(async () => {
  await Promise.allSettled(agents.splice(0).map((agent) => agent.stop({ cancel: true })));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});
afterAll(async () => {
  await Promise.all(directories.splice(0).map((path) => rm(path, { recursive: true, force: true })));
});

async function temporary(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'otakit-signed-mpota-'));
  directories.push(path);
  return path;
}

/** The signed manifest of a release: what the device fetches, with SHA-256s and a signature. */
function signedManifest(host: string, version: string): Manifest {
  const { value } = toCanonical({ host, project: PROJECT, version, filenames: FILENAMES, layout: 'prefix' });
  const bytes = files(version);
  const { extensions: _unsigned, ...manifest } = value;
  return {
    ...manifest,
    artifacts: manifest.artifacts.map((artifact) => ({
      ...artifact,
      sha256: sha256(bytes[artifact.name as keyof typeof bytes]),
    })),
    expiresAt: '2031-01-01T00:00:00Z',
    minVersion: '0.9',
    signature: SIGNATURE,
  };
}

async function setUp(extra: Partial<Parameters<typeof createMicropythonOtaAgent>[0]> = {}) {
  const root = await temporary();
  const server = await startMicropythonOtaServer({ root, auth: AUTH });
  servers.push(server);
  const events: FetchEvent[] = [];
  server.handler.on('fetch', (event) => events.push(event));
  const directory = await temporary();
  await writeTree(join(directory, 'app'), {
    'main.py': 'print("0.9")\n',
    'lib/util.py': 'util 0.9\n',
    version: '0.9',
  });
  const agent = createMicropythonOtaAgent({
    target: { host: server.url, project: PROJECT, filenames: FILENAMES, auth: AUTH },
    appDirectory: join(directory, 'app'),
    stateDirectory: join(directory, 'agent'),
    fsync: false,
    ...(extra.machine === undefined ? { signedStatements: true } : {}),
    poll: { intervalMs: 3_600_000 },
    download: { retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 } },
    ...extra,
  });
  agents.push(agent);
  return { root, server, events, directory, agent };
}

describe('a signed micropython_ota release, publisher → server → agent', () => {
  it('the agent fetches the statement before the files and runs the signed manifest', async () => {
    const { root, server, events, directory, agent } = await setUp();
    const signed = signedManifest(server.url, 'v1');
    await publishRelease({
      root,
      project: PROJECT,
      version: 'v1',
      files: files('v1'),
      manifest: signed,
      fsync: false,
    });
    expect(JSON.parse(await readFile(join(root, PROJECT, 'v1.otakit.json'), 'utf8'))).toEqual(signed);

    const orders: Manifest[] = [];
    agent.on('order', ({ manifest }) => orders.push(manifest));
    const outcome = new Promise((resolve) => agent.once('outcome', resolve));
    await agent.start();
    expect(await outcome).toMatchObject({ state: 'committed', update: { id: 'app@v1', version: 'v1' } });
    expect(orders).toHaveLength(1);
    expect(orders[0]).toEqual({ ...signed, extensions: expect.any(Object) });
    expect(orders[0]!.signature).toEqual(SIGNATURE);
    expect(orders[0]!.artifacts.every((artifact) => /^[0-9a-f]{64}$/.test(artifact.sha256 ?? ''))).toBe(true);
    // The statement was asked for with the credentials, after the version file, before any file.
    const paths = events.map((event) => event.path);
    const statementAt = paths.indexOf('/app/v1.otakit.json');
    expect(statementAt).toBeGreaterThan(paths.indexOf('/app/version'));
    expect(statementAt).toBeLessThan(paths.indexOf('/app/v1_main.py'));
    expect(events[statementAt]).toMatchObject({ status: 200, user: AUTH.user });
    expect(await readTree(join(directory, 'app'))).toMatchObject({ version: 'v1' });
  });

  it('a statement of another version is refused, typed, and nothing is downloaded', async () => {
    const { root, server, events, directory, agent } = await setUp();
    const v1 = signedManifest(server.url, 'v1');
    await publishRelease({
      root,
      project: PROJECT,
      version: 'v2',
      files: files('v2'),
      manifest: signedManifest(server.url, 'v2'),
      fsync: false,
    });
    // The attacker (or a broken sync) serves v1's signed statement as v2's companion.
    await writeFile(join(root, PROJECT, 'v2.otakit.json'), JSON.stringify(v1));
    const errors: unknown[] = [];
    agent.on('error', (error) => errors.push(error));
    const outcomes: unknown[] = [];
    agent.on('outcome', (outcome) => outcomes.push(outcome));
    await agent.start();
    await expect(agent.checkNow()).rejects.toSatisfy((error: unknown) =>
      isOtaError(error, 'MANIFEST_INVALID'),
    );
    const refused = errors.find((error) => isOtaError(error, 'MANIFEST_INVALID')) as unknown as {
      issues: Array<{ path: string }>;
    };
    expect(refused.issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining([
        'otakit_manifest.id',
        'otakit_manifest.version',
        'otakit_manifest.artifacts[0].url',
      ]),
    );
    expect(events.filter((event) => event.path.startsWith('/app/v2_'))).toEqual([]);
    expect(outcomes).toEqual([]);
    expect(await readTree(join(directory, 'app'))).toMatchObject({ version: '0.9' });
  });

  it('an unsigned release (404 companion) still runs, as the unsigned order it is', async () => {
    const { root, events, agent } = await setUp();
    await publishRelease({ root, project: PROJECT, version: 'v3', files: files('v3'), fsync: false });
    const orders: Manifest[] = [];
    agent.on('order', ({ manifest }) => orders.push(manifest));
    const outcome = new Promise((resolve) => agent.once('outcome', resolve));
    await agent.start();
    expect(await outcome).toMatchObject({ state: 'committed' });
    expect(orders[0]!.signature).toBeUndefined();
    expect(events.find((event) => event.path === '/app/v3.otakit.json')).toMatchObject({ status: 404 });
  });

  it('publishRelease refuses a manifest that is unsigned or of another release', async () => {
    const root = await temporary();
    const signed = signedManifest('http://127.0.0.1:1', 'v1');
    const { signature: _s, ...unsigned } = signed;
    for (const [manifest, path] of [
      [unsigned, 'manifest.signature'],
      [{ ...signed, version: 'v9' }, 'manifest.version'],
    ] as const) {
      await expect(
        publishRelease({ root, project: PROJECT, version: 'v1', files: files('v1'), manifest, fsync: false }),
      ).rejects.toSatisfy(
        (error: unknown) =>
          isOtaError(error, 'MANIFEST_INVALID') &&
          (error as unknown as { issues: Array<{ path: string }> }).issues.some(
            (issue) => issue.path === path,
          ),
      );
    }
  });

  it('with real Ed25519 signing and a trust gate: the signed release installs, an unsigned one is refused before any download', async () => {
    const [key] = await testKeys(7);
    const trust = createTrustGate({ root: rootOf([key!], 1) });
    // No signedStatements option: a machine with trust fetches the statements by default.
    const { root, server, events, directory, agent } = await setUp({
      machine: { trust },
    });
    const { signature: _fake, ...unsigned } = signedManifest(server.url, 'v1');
    const signed = await signManifest(unsigned, [key!.seed]);
    await publishRelease({
      root,
      project: PROJECT,
      version: 'v1',
      files: files('v1'),
      manifest: signed,
      fsync: false,
    });
    const outcomes: Array<{ state: string; error: { code: string } | null }> = [];
    agent.on('outcome', (outcome) => outcomes.push(outcome as never));
    await agent.start();
    await until(
      () => outcomes.length === 1,
      () => 'the signed release to finish',
    );
    expect(outcomes[0]).toMatchObject({ state: 'committed' });
    expect(await readTree(join(directory, 'app'))).toMatchObject({ version: 'v1' });

    // An unsigned release (no companion): the machine refuses it, nothing of it is fetched.
    await publishRelease({ root, project: PROJECT, version: 'v2', files: files('v2'), fsync: false });
    await agent.checkNow().catch(() => {});
    await until(
      () => outcomes.length === 2,
      () => 'the unsigned release to be refused',
    );
    expect(outcomes[1]).toMatchObject({ state: 'verify_failed', error: { code: 'TRUST' } });
    expect(events.filter((event) => event.path.startsWith('/app/v2_'))).toEqual([]);
    expect(await readTree(join(directory, 'app'))).toMatchObject({ version: 'v1' });
  });
});
