/**
 * Attack: `update.sh` without opt-in. A Connhex release (.zip) carries an `update.sh`: code the
 * platform expects the device to run as itself. otakit never runs it unless the application calls
 * `runUpdateScript` (the Connhex agent's `runUpdateScript` option, src/node/agents/connhex.ts and
 * connhex-install.ts; src/node/install/run-script.ts). Driven through the real Connhex agent (real
 * nats-server, the loopback release server, real zip extraction and directory installer): by
 * default the release's files are installed and the script never runs (its marker file is never
 * written); the same release with the opt-in runs it once (the control). A generic device with a
 * signed package containing `update.sh` never runs it either.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OtaError } from '../../src/core/errors.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectNats, natsChannel } from '../../src/nats/index.js';
import { type ConnhexAgentOptions, createConnhexAgent } from '../../src/node/agents/connhex.js';
import { ReleaseServer, releaseZip } from '../device/connhex-support.js';
import { NATS_MISSING, NATS_SERVER, NatsServer } from '../nats/nats-server.js';
import { zip } from '../support/archives.js';
import { IN_CI, until } from '../support/system-services.js';
import { artifactServer, cleanup, device, keys3, rootOf, signedPackageOrder } from './harness.js';

const INIT_ID = 'edge-7';
const KEY = `thing-${randomBytes(12).toString('hex')}`;

if (!NATS_SERVER) {
  if (IN_CI) {
    describe('attack: update.sh without opt-in', () => {
      it('has nats-server to run (CI must run the NATS tests)', () => {
        throw new Error(`${NATS_MISSING}. .ci/run apt-installs nats-server when CI is set.`);
      });
    });
  } else {
    console.warn(`test/attacks/update-script-opt-in.test.ts skipped: ${NATS_MISSING}`);
  }
}

describe.skipIf(!NATS_SERVER)('attack: update.sh without opt-in (Connhex agent)', () => {
  let root: string;
  let nats: NatsServer;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'otakit-attack-script-'));
    nats = await NatsServer.start({ directory: root });
  });
  afterEach(async () => {
    for (const close of cleanups.splice(0).reverse()) await close().catch(() => {});
  });
  afterAll(async () => {
    await nats?.stop();
    await rm(root, { recursive: true, force: true });
  });

  async function run(options: Partial<ConnhexAgentOptions>) {
    const dir = await mkdtemp(join(root, 'case-'));
    const marker = join(dir, 'update-sh-ran');
    const server = await ReleaseServer.start(INIT_ID, KEY);
    cleanups.push(() => server.close());
    server.publish({ version: '0.0.3', body: releaseZip('0.0.3', marker) });
    const connection = await connectNats(nats.url, { reconnectTimeWait: 50 });
    cleanups.push(() => connection.close());
    const agent = createConnhexAgent({
      target: { baseUrl: server.url, allowHttp: true, initId: INIT_ID, key: KEY },
      nats: natsChannel(connection),
      installDirectory: join(dir, 'edge'),
      stateDirectory: join(dir, 'state'),
      currentVersion: '0.0.2',
      heartbeatIntervalMs: 60_000,
      fsync: false,
      poll: { intervalMs: 60_000, backoff: { baseDelayMs: 20, maxDelayMs: 100 } },
      config: { autoInstall: true },
      ...options,
    });
    cleanups.push(() => agent.stop({ cancel: true }));
    const errors: OtaError[] = [];
    const outcomes: UpdateOutcome[] = [];
    agent.on('error', (error) => errors.push(error));
    agent.on('outcome', (outcome) => outcomes.push(outcome));
    await agent.start();
    await until(
      () => outcomes.length > 0,
      () => 'an outcome',
    );
    return { dir, marker, outcomes, errors, current: join(dir, 'edge/.store/ota/current') };
  }

  it('by default the release is installed but its update.sh never runs', async () => {
    const s = await run({});
    expect(s.outcomes[0]).toMatchObject({ state: 'committed', update: { version: '0.0.3' } });
    expect((await readdir(s.current)).sort()).toEqual(['new_service.py', 'update.sh']);
    expect(existsSync(s.marker)).toBe(false);
    expect(s.errors).toEqual([]);
  });

  it('runUpdateScript: false is the same; only the explicit opt-in runs it (control)', async () => {
    const off = await run({ runUpdateScript: false });
    expect(off.outcomes[0]?.state).toBe('committed');
    expect(existsSync(off.marker)).toBe(false);
    const on = await run({ runUpdateScript: true });
    expect(on.outcomes[0]?.state).toBe('committed');
    expect(existsSync(on.marker)).toBe(true);
  });
});

describe('attack: update.sh in a signed package on a generic device', () => {
  const removeAfter: string[] = [];
  afterEach(async () => {
    await cleanup();
    await Promise.all(removeAfter.splice(0).map((path) => rm(path, { recursive: true, force: true })));
  });

  it('the archive is installed as files; update.sh is never executed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-attack-script-generic-'));
    removeAfter.push(dir);
    const marker = join(dir, 'ran');
    const bytes = zip([
      { name: 'update.sh', data: `#!/bin/sh\ntouch '${marker}'\n`, mode: 0o100755 },
      { name: 'app/main.py', data: 'print("new")\n' },
    ]);
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ kind: 'archive', trust: { root: rootOf([key], 1) } });
    const order = await signedPackageOrder(server, bytes, key);
    expect((await rig.machine.apply(order)).state).toBe('committed');
    expect((await readdir(rig.target)).sort()).toEqual(['app', 'update.sh']);
    expect(existsSync(marker)).toBe(false);
    // It is there, with its mode bits as archived, and nothing ran it.
    expect((await stat(join(rig.target, 'update.sh'))).isFile()).toBe(true);
  });
});
