/**
 * `npx tsx examples/agents/degu.ts`: a Degu device agent updated end to end against loopback
 * stand-ins it starts itself, then stopped. Nothing to configure.
 *
 * - An in-process MQTT broker (aedes) with otakit's self-hosted shadow service stands in for AWS
 *   IoT Core and the thing's Device Shadow; a loopback HTTP server serves the files.
 * - The operator writes orders into the shadow's `desired`, as a cloud service would
 *   (`degu.protocol.cloud.encodeOrder`), and reads `reported`.
 * - The device runs `createDeguAgent` over `main.py`, `CONFIG` and `degu.bin` in a temp directory:
 *   it reports their MD5s, installs a new script and CONFIG, refuses a firmware image whose MD5 is
 *   not the ordered one (nothing is touched), says with `checkUpdate()` what still differs, then
 *   installs the corrected firmware and clears the finished order from `desired`.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { degu, type ManifestInput, type UpdateOutcome } from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createDeguAgent } from '../../src/node/index.js';
import { createFaultServer } from '../../src/testing/index.js';
import { createShadowService } from '../../src/testing/shadow-service.js';

const thingName = 'A1B2C3D4E5F60718';
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const content = {
  mainB: Buffer.from("print('B')\n"),
  config: Buffer.from('interval=60\n'),
  firmware: Buffer.alloc(40 * 1024, 7), // stands in for an MCUboot-signed degu.bin
  tampered: Buffer.alloc(40 * 1024, 9),
};

// ---- The cloud: broker, shadow service, file server ---------------------------------------

const broker = await Aedes.createBroker();
const mqttServer = createServer(broker.handle);
await new Promise<void>((resolve) => mqttServer.listen(0, '127.0.0.1', resolve));
const url = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;
const cloud = await connectMqtt(url, { clientId: 'shadow-service' });
const shadows = createShadowService({ connection: cloud });
await shadows.start();
const web = await createFaultServer();
web.route('/main_B.py', { body: content.mainB });
web.route('/CONFIG', { body: content.config });
web.route('/degu.bin', { body: content.firmware });
web.route('/degu-mirror.bin', { body: content.tampered }); // a mirror that serves other bytes

/** The operator writes an order into `desired` (the items it names; the others set to null). */
async function order(artifacts: ManifestInput['artifacts']): Promise<void> {
  const { value } = degu.protocol.cloud.encodeOrder({ id: 'order', version: '1', artifacts }, { thingName });
  const result = await shadows.update({ thingName }, value[0]!.payload);
  if (!result.ok) throw new Error(result.error.message);
  console.log(`operator: order written at shadow version ${result.shadow.version}`);
}

/** Waits (polling, at most 10 s) until the shadow satisfies `test`. */
async function shadowWhen(
  test: (state: { desired?: object; reported?: Record<string, unknown> }) => boolean,
) {
  for (let waited = 0; waited < 10_000; waited += 10) {
    const state = shadows.shadow({ thingName })?.state;
    if (state !== undefined && test(state)) return state;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the shadow never got there');
}

// ---- The device ------------------------------------------------------------------------------

const root = await mkdtemp(join(tmpdir(), 'otakit-degu-example-'));
const files = {
  script: join(root, 'files', 'main.py'),
  config: join(root, 'files', 'CONFIG'),
  firmware: join(root, 'files', 'degu.bin'),
};
await mkdir(join(root, 'files'));
await writeFile(files.script, "print('A')\n");
await writeFile(files.firmware, Buffer.alloc(32 * 1024, 1));

const connection = await connectMqtt(url, { clientId: thingName });
const agent = createDeguAgent({
  thingName,
  connection,
  files,
  stateDirectory: join(root, 'agent'),
  firmwareVersion: '1.0.0-rc1',
  clearDesired: true,
});
agent.on('transition', ({ from, to }) => console.log(`device: ${from} -> ${to}`));
agent.on('error', (error) => console.log(`device error: ${error.code} ${error.message}`));
const nextOutcome = () => new Promise<UpdateOutcome>((resolve) => agent.once('outcome', resolve));

await agent.start();
console.log(
  'reported at boot:',
  await shadowWhen((state) => state.reported?.firmware_ver !== undefined).then((s) => s.reported),
);

// 1. A new script and a CONFIG (the device has none yet).
let outcome = nextOutcome();
await order([
  { url: `${web.url}/main_B.py`, md5: md5(content.mainB), target: 'script' },
  { url: `${web.url}/CONFIG`, md5: md5(content.config), target: 'config' },
]);
console.log('outcome:', (await outcome).state);
console.log(
  'reported:',
  await shadowWhen((state) => state.reported?.config_user_ver !== 'none').then((s) => s.reported),
);

// 2. A firmware whose bytes do not have the ordered MD5: refused before anything is installed.
outcome = nextOutcome();
await order([{ url: `${web.url}/degu-mirror.bin`, md5: md5(content.firmware), target: 'firmware' }]);
const refused = await outcome;
console.log('outcome:', refused.state, '-', refused.error?.message);
console.log('checkUpdate():', JSON.stringify(await agent.checkUpdate()));

// 3. The operator fixes the URL: installed, reported, and the order cleared from desired.
outcome = nextOutcome();
await order([{ url: `${web.url}/degu.bin`, md5: md5(content.firmware), target: 'firmware' }]);
console.log('outcome:', (await outcome).state);
const final = await shadowWhen((state) => state.desired === undefined);
console.log('shadow at the end:', JSON.stringify(final));
console.log(
  'files:',
  (await readdir(join(root, 'files'))).sort().join(', '),
  '-',
  JSON.stringify(agent.localVersions),
);

await agent.stop();
await connection.close();
await shadows.stop();
await cloud.close();
await web.close();
await new Promise<void>((resolve) => broker.close(() => resolve()));
await new Promise<void>((resolve) => mqttServer.close(() => resolve()));
await rm(root, { recursive: true, force: true });
