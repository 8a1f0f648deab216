/**
 * Attack: mix-and-match. The attacker combines pieces of two genuinely signed releases: the
 * artifacts of manifest B under manifest A's signed header, or A's signed statement beside the
 * platform wire order of B. Refused before a byte of the swapped artifact is fetched: a combined
 * manifest fails its signature (TrustError `bad_signature`, src/manifest/trust.ts); a statement
 * that does not match the wire order is refused by the device side of the protocol
 * (src/protocols/signed-statement.ts, via the real micropython_ota agent and server): ManifestError
 * naming `otakit_manifest.<path>`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isOtaError, ManifestError } from '../../src/core/errors.js';
import type { Manifest } from '../../src/manifest/schema.js';
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
import { readTree, writeTree } from '../device/micropython-ota-support.js';
import {
  artifactOf,
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
  trustRefusal,
} from './harness.js';

afterEach(cleanup);

describe('attack: mix-and-match on the canonical manifest', () => {
  it("manifest A's signed header with manifest B's artifacts is refused: bad_signature, no request", async () => {
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([key], 1) } });
    const a = await sign(
      { id: 'fw-a', version: '2.0.0', artifacts: [artifactOf(server, '/a.bin', encode('release A'))] },
      [key],
    );
    const b = await sign(
      {
        id: 'fw-b',
        version: '1.0.0',
        artifacts: [artifactOf(server, '/b.bin', encode('release B (old, vulnerable)'))],
      },
      [key],
    );
    for (const mixed of [
      { ...a, artifacts: b.artifacts },
      { ...a, artifacts: [...a.artifacts, ...b.artifacts] },
      { ...b, id: a.id, version: a.version },
    ]) {
      expectRefused(
        rig,
        await rig.machine.apply(mixed),
        trustRefusal('bad_signature', 'signature.signatures'),
      );
    }
    expect(server.stats('/a.bin').requests + server.stats('/b.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });
});

const AUTH = { user: 'otauser', password: 'pw-Mix-And-Match-9' };
const PROJECT = 'app';
const FILENAMES = ['main.py'];
const files = (version: string) => ({ 'main.py': encode(`print("${version}")\n`) });

describe('attack: mix-and-match on the wire (micropython_ota agent)', () => {
  const dirs: string[] = [];
  const servers: StartedMicropythonOtaServer[] = [];
  const agents: MicropythonOtaAgent[] = [];
  afterEach(async () => {
    await Promise.allSettled(agents.splice(0).map((agent) => agent.stop({ cancel: true })));
    await Promise.allSettled(servers.splice(0).map((server) => server.close()));
  });
  afterAll(async () => {
    await Promise.all(dirs.splice(0).map((path) => rm(path, { recursive: true, force: true })));
  });

  it("v1's signed statement served beside v2's wire order: refused (otakit_manifest.*), nothing downloaded", async () => {
    const [key] = await keys3();
    const root = await mkdtemp(join(tmpdir(), 'otakit-attack-mix-'));
    dirs.push(root);
    const server = await startMicropythonOtaServer({ root, auth: AUTH });
    servers.push(server);
    const events: FetchEvent[] = [];
    server.handler.on('fetch', (event) => events.push(event));
    const statement = async (version: string): Promise<Manifest> => {
      const { value } = toCanonical({
        host: server.url,
        project: PROJECT,
        version,
        filenames: FILENAMES,
        layout: 'prefix',
      });
      const { extensions: _e, ...manifest } = value;
      return sign(
        {
          ...manifest,
          artifacts: manifest.artifacts.map((artifact) => ({
            ...artifact,
            sha256: sha256(files(version)['main.py']),
          })),
        },
        [key],
      );
    };
    const v1 = await statement('v1');
    await publishRelease({
      root,
      project: PROJECT,
      version: 'v2',
      files: files('v2'),
      manifest: await statement('v2'),
      fsync: false,
    });
    // The attacker serves v1's (genuinely signed) statement as v2's companion.
    await writeFile(join(root, PROJECT, 'v2.otakit.json'), JSON.stringify(v1));
    const device = await mkdtemp(join(tmpdir(), 'otakit-attack-mix-device-'));
    dirs.push(device);
    await writeTree(join(device, 'app'), { 'main.py': 'print("v0")\n', version: 'v0' });
    const before = await readTree(join(device, 'app'));
    const agent = createMicropythonOtaAgent({
      target: { host: server.url, project: PROJECT, filenames: FILENAMES, auth: AUTH },
      appDirectory: join(device, 'app'),
      stateDirectory: join(device, 'agent'),
      fsync: false,
      signedStatements: true,
      poll: { intervalMs: 3_600_000 },
      download: { retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 } },
    });
    agents.push(agent);
    const errors: unknown[] = [];
    agent.on('error', (error) => errors.push(error));
    const outcomes: unknown[] = [];
    agent.on('outcome', (outcome) => outcomes.push(outcome));
    await agent.start();
    await expect(agent.checkNow()).rejects.toSatisfy((error: unknown) =>
      isOtaError(error, 'MANIFEST_INVALID'),
    );
    const refused = errors.find((error) => error instanceof ManifestError) as ManifestError | undefined;
    expect(refused).toBeInstanceOf(ManifestError);
    expect(refused!.code).toBe('MANIFEST_INVALID');
    expect(refused!.issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining(['otakit_manifest.id', 'otakit_manifest.version']),
    );
    expect(refused!.message).toContain('otakit_manifest.');
    expect(
      events.filter((event) => event.path.startsWith('/app/v2_') || event.path.startsWith('/app/v1_')),
    ).toEqual([]);
    expect(outcomes).toEqual([]);
    expect(await readTree(join(device, 'app'))).toEqual(before);
  });
});
