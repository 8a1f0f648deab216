/**
 * The micropython_ota cloud side end to end, on loopback: `npx tsx examples/cloud/micropython-ota-server.ts`.
 *
 * - Publishes release v1.0.0 of the project `sample` (prefix layout) into a fresh root and serves
 *   it behind Basic auth with `startMicropythonOtaServer`, printing every fetch it sees.
 * - A device agent (otakit's micropython_ota agent, standing in for a board) installs it.
 * - Publishes v1.0.1, the device installs it; rolls back to v1.0.0 with `activateRelease`, the
 *   device installs it again; lists the releases.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UpdateOutcome } from '../../src/index.js';
import { createMicropythonOtaAgent } from '../../src/node/agents/micropython-ota.js';
import {
  activateRelease,
  listReleases,
  publishRelease,
} from '../../src/node/cloud/micropython-ota-publish.js';
import { startMicropythonOtaServer } from '../../src/node/cloud/micropython-ota-server.js';

const work = await mkdtemp(join(tmpdir(), 'otakit-mpota-example-'));
const root = join(work, 'root');
const auth = { user: 'otauser', password: 'example-only-password' };
const release = (version: string) => ({
  'main.py': new TextEncoder().encode(`from lib.util import greet\ngreet("${version}")\n`),
  'lib/util.py': new TextEncoder().encode('def greet(v):\n    print("running", v)\n'),
});

await publishRelease({ root, project: 'sample', version: 'v1.0.0', files: release('v1.0.0') });
const server = await startMicropythonOtaServer({ root, auth });
server.handler.on('fetch', (event) =>
  console.log(`  server: ${event.status} ${event.path}${event.version ? ` (offers ${event.version})` : ''}`),
);
console.log(`serving ${root} at ${server.url}`);

const appDirectory = join(work, 'device', 'app');
const agent = createMicropythonOtaAgent({
  target: { host: server.url, project: 'sample', filenames: ['main.py', 'lib/util.py'], auth },
  appDirectory,
  stateDirectory: join(work, 'device', 'otakit'),
  poll: { intervalMs: 3_600_000 },
});
const nextOutcome = () => new Promise<UpdateOutcome>((resolve) => agent.once('outcome', resolve));
const show = async (outcome: UpdateOutcome) =>
  console.log(
    `device: ${outcome.state} ${outcome.update?.id}; version file: ${await readFile(join(appDirectory, 'version'), 'utf8')}`,
  );

try {
  const first = nextOutcome();
  await agent.start();
  await show(await first);

  await publishRelease({ root, project: 'sample', version: 'v1.0.1', files: release('v1.0.1') });
  const second = await agent.checkNow();
  if (second) await show(second);

  await activateRelease({ root, project: 'sample', version: 'v1.0.0' });
  const rollback = await agent.checkNow();
  if (rollback) await show(rollback);

  const { live, releases } = await listReleases({ root, project: 'sample' });
  console.log(`live: ${live}; releases: ${releases.map((r) => `${r.version} (${r.layout})`).join(', ')}`);
} finally {
  await agent.stop();
  await server.close();
  await rm(work, { recursive: true, force: true });
}
