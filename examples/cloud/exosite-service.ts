/**
 * An Exosite Murano development fleet on loopback: `npx tsx examples/cloud/exosite-service.ts`.
 *
 * - The local Murano device-API service stands in for `<productId>.m2.exosite.io`: three devices,
 *   their resources and the write journal in a `FileStore` (a restart keeps them), the release in
 *   the connector's content area.
 * - Two devices run otakit's Exosite agent (HTTP long poll): `sensor-1` was given its token,
 *   `sensor-2` activates itself to get one. `sensor-3` never comes online: its order is withdrawn.
 * - The publisher writes `config_otau` through the management API and follows `otau_in` and the
 *   acknowledgements into a fleet, which prints every transition.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExositePublisher } from '../../src/cloud/exosite/publisher.js';
import type { ManifestInput } from '../../src/manifest/schema.js';
import { createExositeDeviceApi } from '../../src/node/cloud/exosite-device-api.js';
import { createExositeAgent, type ExositeTarget, FileStore } from '../../src/node/index.js';
import { activateRequest, decodeActivateResponse } from '../../src/protocols/exosite/provision.js';
import { httpChannel } from '../../src/transport/http-channel.js';

const PRODUCT = 'devfleet1';
const work = await mkdtemp(join(tmpdir(), 'otakit-exosite-service-'));
const sensor1Token = randomBytes(20).toString('hex');

// --- The local Murano service ------------------------------------------------------------------
const murano = await createExositeDeviceApi({
  productId: PRODUCT,
  devices: [
    { identity: 'sensor-1', token: sensor1Token },
    { identity: 'sensor-2' },
    { identity: 'sensor-3' },
  ],
  content: { 'app-2.0.0.bin': 'application 2.0.0\n' },
  store: new FileStore(join(work, 'murano')),
});
console.log(`device API and management API on ${murano.origin}`);

// --- The publisher -----------------------------------------------------------------------------
const publisher = createExositePublisher({
  http: httpChannel({
    baseUrl: murano.origin,
    headers: { authorization: `Bearer ${murano.managementToken}` },
  }),
  pollWaitMs: 5_000,
});
publisher.fleet.on('transition', ({ deviceId, from, to }) => console.log(`${deviceId}: ${from} → ${to}`));
publisher.on('acknowledged', ({ target, current }) =>
  console.log(`${target.identity}: acknowledged ${current ? 'the current order' : 'an older order'}`),
);

// --- The devices -------------------------------------------------------------------------------
async function activate(identity: string): Promise<string> {
  const request = activateRequest({ productId: PRODUCT, identity });
  const response = await fetch(new URL(request.path, murano.origin), request);
  return decodeActivateResponse({ status: response.status, body: await response.text() });
}

const target = (identity: string, token?: string): ExositeTarget => ({
  productId: PRODUCT,
  identity,
  transport: 'http',
  longPollTimeoutMs: 5_000,
  ...(token === undefined ? {} : { token }),
});

const agents = [];
for (const [identity, token] of [
  ['sensor-1', sensor1Token],
  ['sensor-2', await activate('sensor-2')],
] as const) {
  await publisher.watch(target(identity));
  const agent = createExositeAgent({
    target: target(identity, token),
    apiOrigin: murano.origin,
    installDirectory: join(work, identity, 'app'),
    stateDirectory: join(work, identity, 'state'),
    currentVersion: '1.0.0',
  });
  await agent.start();
  agents.push(agent);
}

// --- Publish, watch it land, withdraw the offline device's order -------------------------------
const release: ManifestInput = {
  id: '2.0.0',
  version: '2.0.0',
  artifacts: [{ url: 'app-2.0.0.bin', target: 'file' }],
  extensions: { exosite: { name: 'Application', type: 'URL_LIST' } },
};
for (const identity of ['sensor-1', 'sensor-2', 'sensor-3'])
  await publisher.publish(target(identity), release);
await publisher.withdraw(target('sensor-3'));

const committed = async () => (await publisher.fleet.counts()).committed === 2;
while (!(await committed())) await new Promise((resolve) => setTimeout(resolve, 50));
console.log(await readFile(join(work, 'sensor-1', 'app', 'app-2.0.0.bin'), 'utf8'));
console.log('sensor-3 config_otau:', JSON.stringify((await publisher.sync(target('sensor-3'))).set));
console.log('feed positions to persist with the fleet:', publisher.positions());

for (const agent of agents) await agent.stop();
await publisher.close();
await murano.close();
await rm(work, { recursive: true, force: true });
