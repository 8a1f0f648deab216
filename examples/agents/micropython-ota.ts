/**
 * `npx tsx examples/agents/micropython-ota.ts`: a micropython_ota device updated end to end
 * against a loopback server it starts itself, then stopped. Nothing to configure.
 *
 * - The server is a static server root as the reference's README describes it (Apache or nginx
 *   would do): `sample/version` names the release, its files sit next to it as
 *   `<version>_<file>`, everything behind HTTP Basic auth.
 * - The device's app directory runs v1.0.0 (`main.py`, `lib/util.py`, its own `data.txt`).
 * - `checkForOtaUpdate()` sees v1.0.1 and asks for a reset; the agent then installs v1.0.1 (both
 *   files at once, the `version` file last); v1.0.2 is published with a file missing and nothing
 *   is installed; the server is rolled back to v1.0.0, which installs like any other tag.
 */
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { UpdateOutcome } from '../../src/index.js';
import { checkForOtaUpdate, createMicropythonOtaAgent } from '../../src/node/index.js';

const auth = { user: 'otauser', password: 'topsecret' };
const release = (version: string) => ({
  'main.py': `from lib.util import greet\ngreet("${version}")\n`,
  'lib/util.py': `def greet(version):\n    print("running", version)\n`,
});

// ---- The server root ---------------------------------------------------------------------------

const serverRoot = new Map<string, string>();
const publish = (version: string, files: Record<string, string>) => {
  for (const [name, text] of Object.entries(files)) serverRoot.set(`/sample/${version}_${name}`, text);
};
publish('v1.0.0', release('v1.0.0'));
publish('v1.0.1', release('v1.0.1'));
publish('v1.0.2', { 'main.py': release('v1.0.2')['main.py'] }); // lib/util.py was never uploaded
serverRoot.set('/sample/version', 'v1.0.1\n');

const expected = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
const server = createServer((request, response) => {
  const path = request.url ?? '/';
  if (request.headers.authorization !== expected) return void response.writeHead(401).end();
  const body = serverRoot.get(path);
  console.log(`  server: GET ${path} -> ${body === undefined ? 404 : 200}`);
  if (body === undefined) response.writeHead(404).end();
  else response.end(body);
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// ---- The device ----------------------------------------------------------------------------------

const root = await mkdtemp(join(tmpdir(), 'otakit-micropython-ota-'));
const appDirectory = join(root, 'app');
const stateDirectory = join(root, 'otakit');
// The device as it left the factory: v1.0.0, its version file, and a data file of its own.
for (const [name, text] of Object.entries({
  ...release('v1.0.0'),
  version: 'v1.0.0',
  'data.txt': 'calibration\n',
})) {
  await mkdir(dirname(join(appDirectory, name)), { recursive: true });
  await writeFile(join(appDirectory, name), text);
}

async function show(what: string): Promise<void> {
  const files = ['main.py', 'lib/util.py', 'version'];
  const contents = await Promise.all(files.map((name) => readFile(join(appDirectory, name), 'utf8')));
  console.log(`${what}: version=${contents[2]}, main.py greets ${/greet\("(.*)"\)/.exec(contents[0]!)?.[1]}`);
}
await show('factory image');
console.log(`  app directory: ${(await readdir(appDirectory)).sort().join(', ')}`);

// ---- check_for_ota_update(): the check alone --------------------------------------------------

const target = { host, project: 'sample', filenames: ['main.py', 'lib/util.py'], auth };
const check = await checkForOtaUpdate({
  target,
  appDirectory,
  onReset: (reset) => console.log(`checkForOtaUpdate: ${reset} reset requested (the update runs after it)`),
});
console.log(`checkForOtaUpdate: changed=${check.changed}, server has ${check.version}`);

// ---- The agent ---------------------------------------------------------------------------------

const agent = createMicropythonOtaAgent({
  target,
  appDirectory,
  stateDirectory,
  poll: { intervalMs: 100 },
});
agent.on('transition', ({ from, to }) => console.log(`  agent: ${from} -> ${to}`));
agent.on('error', (error) => console.log(`  agent error (${error.code}): ${error.message}`));
const next = () => new Promise<UpdateOutcome>((resolve) => agent.once('outcome', resolve));

let outcome = next();
await agent.start(); // the first poll finds v1.0.1
const first = await outcome;
console.log(`outcome: ${first.state} ${first.update?.version}`);
await show('after the update');

outcome = next();
serverRoot.set('/sample/version', 'v1.0.2\n');
const failed = await outcome;
console.log(`outcome: ${failed.state} (${failed.error?.message}): nothing installed`);
await show('after the broken release');

outcome = next();
serverRoot.set('/sample/version', 'v1.0.0\n'); // the rollback: the old tag, whose files are still there
const rolledBack = await outcome;
console.log(`outcome: ${rolledBack.state} ${rolledBack.update?.version}`);
await show('after the rollback');

await agent.stop();
console.log(`  app directory: ${(await readdir(appDirectory)).sort().join(', ')}`);
server.close();
await rm(root, { recursive: true, force: true });
