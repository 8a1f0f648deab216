/**
 * `npx tsx examples/agents/insighio.ts`: an insigh.io device agent updated end to end against
 * loopback stand-ins it starts itself, then stopped. Nothing to configure.
 *
 * - An in-process MQTT broker (aedes) stands in for `console.insigh.io:1884`, and a loopback HTTP
 *   server for the console's package service (`/mf-rproxy/packages/download?fuid&did&dk&cid`; it
 *   refuses a wrong device key).
 * - The console side publishes retained orders on the device's OTA topic and prints what the device
 *   answers there.
 * - The device runs `createInsighioAgent`: package 1 (microfreezer's pseudo-gzip) installs over the
 *   device's tree; the same order replayed is confirmed, not reinstalled; package 2 has a broken
 *   CRC-32 trailer and is refused before anything is touched; package 3 does not fit on the disk.
 */
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { Aedes } from 'aedes';
import type { UpdateOutcome } from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createInsighioAgent, insighioMqttOptions } from '../../src/node/index.js';
import { orderPublication } from '../../src/protocols/insighio/publish.js';

const ids = { controlChannelId: 'ctrl-demo', deviceId: 'dev-demo-01' };
const deviceKey = 'demo-device-key';

// ---- Packages, as microfreezer makes them ----------------------------------------------------

/** A ustar archive of `files` (paths relative to the device root). */
function tar(files: Record<string, string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write('0000644\0', 100);
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148); // the checksum counts its own field as spaces
    header.write('0', 156);
    header.write('ustar\x0000', 257);
    const sum = header.reduce((total, byte) => total + byte, 0);
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

/** microfreezer's `.tar.gz`: 8 pseudo-gzip bytes, a zlib stream, the big-endian CRC-32 of that stream. */
function microfreezer(archive: Buffer): Buffer {
  const zlib = deflateSync(archive, { level: 4 });
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(crc32(zlib));
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), zlib, trailer]);
}

const packages = new Map<string, Buffer>([
  ['a1b2c3d4', microfreezer(tar({ 'boot.py': 'print("v2")\n', 'apps/demo/main.py': 'VERSION = 2\n' }))],
]);
const broken = microfreezer(tar({ 'boot.py': 'print("v3")\n' }));
broken[broken.length - 1]! ^= 0xff;
packages.set('e5f6a7b8', broken);

// ---- The console's side: broker and package service -----------------------------------------

const broker = await Aedes.createBroker();
const mqttServer = createServer(broker.handle).listen(0, '127.0.0.1');
const packageService = createHttpServer((request, response) => {
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
  const body = packages.get(query.get('fuid') ?? '');
  if (query.get('dk') !== deviceKey || query.get('did') !== ids.deviceId)
    return void response.writeHead(403).end();
  if (body === undefined) return void response.writeHead(404).end();
  response.writeHead(200, { 'content-length': body.length }).end(body);
}).listen(0, '127.0.0.1');
await Promise.all([once(mqttServer, 'listening'), once(packageService, 'listening')]);
const port = (server: { address(): unknown }) => (server.address() as AddressInfo).port;
const mqttUrl = `mqtt://127.0.0.1:${port(mqttServer)}`;

const consoleSide = await connectMqtt(mqttUrl, { clientId: 'console' });
const topic = `channels/${ids.controlChannelId}/messages/${ids.deviceId}/ota`;
await consoleSide.subscribe(topic, ({ payload, retain }) => {
  const text = new TextDecoder().decode(payload);
  if (!text.includes('"v":0'))
    console.log(
      `  console hears: ${text === '' ? '(empty: order cleared)' : text}${retain ? ' [retained]' : ''}`,
    );
});
const order = async (fileId: string, size: number) => {
  const publication = orderPublication(ids, { fileId, fileType: '.tar.gz', size });
  console.log(`\nconsole orders ${fileId} (${size} bytes)`);
  await consoleSide.publish(publication.topic, publication.payload, publication.options);
};

// ---- The device -------------------------------------------------------------------------------

const root = await mkdtemp(join(tmpdir(), 'otakit-insighio-example-'));
const deviceRoot = join(root, 'device-root');
await mkdir(join(deviceRoot, 'lib'), { recursive: true });
await writeFile(join(deviceRoot, 'boot.py'), 'print("v1")\n');
await writeFile(join(deviceRoot, 'lib', 'config.json'), '{"interval": 60}\n');

const connection = await connectMqtt(mqttUrl, insighioMqttOptions({ ...ids, deviceKey }));
const agent = createInsighioAgent({
  target: { ...ids, baseUrl: `http://127.0.0.1:${port(packageService)}/mf-rproxy`, allowInsecureHttp: true },
  deviceKey,
  connection,
  installDirectory: deviceRoot,
  stateDirectory: join(root, 'agent'),
});
agent.on('transition', ({ to }) => console.log(`  device: ${to}`));
agent.on('ignored', ({ reason, update }) => {
  if (reason !== 'no_order') console.log(`  device: ignored ${update?.id} (${reason})`);
});
const nextOutcome = () => new Promise<UpdateOutcome>((resolve) => agent.once('outcome', resolve));
const settle = () => new Promise((resolve) => setTimeout(resolve, 100)); // let the console's subscription print

async function tree(): Promise<string> {
  const files: string[] = [];
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files.push(`${relative(deviceRoot, path)}: ${(await readFile(path, 'utf8')).trim()}`);
    }
  };
  await walk(deviceRoot);
  return files.sort().join(' | ');
}

console.log(`device root before: ${await tree()}`);
await agent.start();

let outcome = nextOutcome();
await order('a1b2c3d4', packages.get('a1b2c3d4')!.length);
console.log(`  outcome: ${(await outcome).state}; device root: ${await tree()}`);
await settle();

const replayed = new Promise((resolve) => agent.once('ignored', resolve));
await order('a1b2c3d4', packages.get('a1b2c3d4')!.length); // a replay of the installed package
await replayed;
await settle();

outcome = nextOutcome();
await order('e5f6a7b8', broken.length);
const failed = await outcome;
console.log(`  outcome: ${failed.state} (${failed.error?.message}); device root: ${await tree()}`);
await settle();

outcome = nextOutcome();
await order('0badf00d', 2 ** 50); // 1 PiB: refused before a byte is downloaded
const refused = await outcome;
console.log(`  outcome: ${refused.state} (${refused.error?.message})`);
await settle();

await agent.stop();
await Promise.all([connection.close(), consoleSide.close()]);
await new Promise<void>((resolve) => broker.close(() => resolve()));
mqttServer.close();
packageService.close();
await rm(root, { recursive: true, force: true });
