/**
 * `npx tsx examples/agents/exosite.ts`: an Exosite device agent updated end to end against an
 * emulation of Murano it starts itself (otakit/testing's `createExositeEmulator`: the HTTP device
 * API with long polls, and the connector content API), then stopped. Nothing to configure.
 *
 * - The device boots on 1.0.0 and says so (`INSTALLED_VERSION`), then long-polls `config_otau`.
 * - The platform writes a `URL_LIST` manifest with two content files: the device acknowledges it
 *   (writes it back), downloads both with its token, installs them atomically and reports every
 *   step in `otau_in`.
 * - The same manifest written again is acknowledged as installed, not run twice.
 * - A `JSON` manifest carries its payload inline: nothing to download, installed as `payload.json`.
 * - A manifest of unknown type (`ZIP`) is acknowledged, then refused with `TEST_ERROR`.
 * - A preflight (the application's own check) refuses 9.9.9: `TEST_ERROR` with its reason.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UpdateOutcome } from '../../src/index.js';
import { createExositeAgent } from '../../src/node/index.js';
import { createExositeEmulator } from '../../src/testing/exosite-murano.js';

const murano = await createExositeEmulator({
  productId: 'demo0product',
  identity: 'sensor-0042',
  content: { 'firmware_v2.bin': 'firmware 2.0.0\n', 'settings_v2.txt': 'interval=30\n' },
});
const root = await mkdtemp(join(tmpdir(), 'otakit-exosite-example-'));
const app = join(root, 'app');

const agent = createExositeAgent({
  target: {
    productId: murano.productId,
    identity: murano.identity,
    transport: 'http',
    token: murano.token,
    longPollTimeoutMs: 5_000,
  },
  apiOrigin: murano.origin, // on a device: omit it (https://<productId>.m2.exosite.io)
  installDirectory: app,
  stateDirectory: join(root, 'state'),
  currentVersion: '1.0.0',
  preflight: ({ manifest }) => {
    if (manifest.version === '9.9.9') throw new Error('Version 9.9.9 is not for this hardware.');
  },
});
agent.on('ignored', ({ reason, update }) => console.log(`  ignored: ${reason} ${update?.version ?? ''}`));
agent.on('error', (error) => console.log(`  error event: ${error.code} ${error.message.slice(0, 100)}`));

let printed = 0;
/** Prints the `otau_in` statuses written since the last call, as the platform received them. */
function printStatuses(): void {
  for (const status of murano.statuses().slice(printed)) {
    console.log(
      `  otau_in ${status.version} ${status.status}${status.message ? ` "${status.message}"` : ''}`,
    );
  }
  printed = murano.statuses().length;
}
const nextOutcome = () => new Promise<UpdateOutcome>((resolve) => agent.once('outcome', resolve));
const settle = () => new Promise((resolve) => setTimeout(resolve, 1_500));

await agent.start();
console.log('boot:');
printStatuses();

console.log('\n1. URL_LIST with two connector content files');
let outcome = nextOutcome();
await murano.setConfig({
  version: '2.0.0',
  name: 'Firmware 2',
  type: 'URL_LIST',
  payload: ['firmware_v2.bin', 'settings_v2.txt'],
});
console.log(`  outcome: ${(await outcome).state}`);
printStatuses();
console.log(`  acknowledged: ${murano.config().reported === murano.config().set}`);
console.log(`  ${app}: ${(await readdir(app)).join(', ')}`);

console.log('\n2. the same manifest written again');
await murano.setConfig(murano.config().set);
await settle();
printStatuses();

console.log('\n3. JSON: the payload is in the manifest');
outcome = nextOutcome();
await murano.setConfig({ version: '2.1.0', name: 'Settings', type: 'JSON', payload: { interval: 60 } });
console.log(`  outcome: ${(await outcome).state}`);
printStatuses();
console.log(`  payload.json: ${await readFile(join(app, 'payload.json'), 'utf8')}`);

console.log('\n4. a manifest of unknown type');
await murano.setConfig(JSON.stringify({ version: '3.0.0', name: 'zip', type: 'ZIP', payload: 'x.zip' }));
await settle();
printStatuses();

console.log('\n5. the preflight refuses');
outcome = nextOutcome();
await murano.setConfig({ version: '9.9.9', name: 'other', type: 'URL_LIST', payload: ['firmware_v2.bin'] });
console.log(`  outcome: ${(await outcome).state}`);
printStatuses();

await agent.stop();
await murano.close();
await rm(root, { recursive: true, force: true });
console.log('\ndone');
