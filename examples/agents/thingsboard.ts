/**
 * A ThingsBoard device agent updating itself end to end, against a ThingsBoard stand-in it starts
 * itself: `npx tsx examples/agents/thingsboard.ts`.
 *
 * - An in-process aedes broker plays ThingsBoard's MQTT transport: it accepts only the device's
 *   access token as user name, answers attribute requests with the assigned package, serves
 *   `v2/fw/request/<id>/chunk/<n>`, and prints the telemetry the device sends.
 * - A loopback HTTP server plays the device API's firmware endpoint
 *   (`GET /api/v1/<token>/firmware?title=&version=`).
 * - Three assignments: 1.1 (SHA256, fetched in MQTT chunks), 1.2 with a wrong checksum (refused:
 *   FAILED, nothing installed), then 1.2 with its CRC32 (fetched over HTTP by a second agent).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Aedes, type AedesPublishPacket } from 'aedes';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/index.js';

const TOKEN = 'EXAMPLE_DEVICE_TOKEN';

interface Assigned {
  title: string;
  version: string;
  bytes: Buffer;
  attributes: Record<string, unknown>;
}
let assigned: Assigned | undefined;

function assign(version: string, bytes: Buffer, checksum: { algorithm: string; value: string }): Assigned {
  return {
    title: 'app',
    version,
    bytes,
    attributes: {
      fw_title: 'app',
      fw_version: version,
      fw_size: bytes.length,
      fw_checksum_algorithm: checksum.algorithm,
      fw_checksum: checksum.value,
    },
  };
}

// --- ThingsBoard's MQTT transport ------------------------------------------------------------
const broker = await Aedes.createBroker({
  authenticate: (_client, username, _password, done) =>
    username === TOKEN
      ? done(null, true)
      : done(Object.assign(new Error('Not authorized'), { returnCode: 5 }) as never, false),
});
const answer = (topic: string, payload: Buffer | string) =>
  broker.publish(
    {
      cmd: 'publish',
      topic,
      payload: Buffer.from(payload),
      qos: 1,
      retain: false,
      dup: false,
    } as AedesPublishPacket,
    () => {},
  );
broker.on('publish', (packet, client) => {
  if (!client) return;
  const text = Buffer.from(packet.payload).toString();
  const attributes = /^v1\/devices\/me\/attributes\/request\/(\d+)$/.exec(packet.topic);
  const chunk = /^v2\/fw\/request\/(\d+)\/chunk\/(\d+)$/.exec(packet.topic);
  if (packet.topic === 'v1/devices/me/telemetry') console.log('  ThingsBoard got telemetry', text);
  else if (attributes) {
    answer(
      `v1/devices/me/attributes/response/${attributes[1]}`,
      JSON.stringify({ shared: assigned?.attributes ?? {} }),
    );
  } else if (chunk) {
    const size = Number(text);
    const index = Number(chunk[2]);
    answer(
      packet.topic.replace('request', 'response'),
      (assigned?.bytes ?? Buffer.alloc(0)).subarray(index * size, (index + 1) * size),
    );
  }
});
const mqttServer = createServer(broker.handle);
mqttServer.listen(0, '127.0.0.1');
await once(mqttServer, 'listening');
const url = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;

// --- ThingsBoard's HTTP device API: the firmware endpoint -----------------------------------
const http = createHttpServer((request, response) => {
  const query = new URL(request.url ?? '/', 'http://localhost');
  const ok =
    query.pathname === `/api/v1/${TOKEN}/firmware` &&
    query.searchParams.get('version') === assigned?.version &&
    query.searchParams.get('title') === assigned?.title;
  if (!ok) return void response.writeHead(404).end();
  response.writeHead(200, { 'content-length': String(assigned!.bytes.length) }).end(assigned!.bytes);
});
http.listen(0, '127.0.0.1');
await once(http, 'listening');
const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

// --- The device ---------------------------------------------------------------------------
const root = await mkdtemp(join(tmpdir(), 'otakit-thingsboard-example-'));
await writeFile(join(root, 'app.bin'), 'firmware 1.0\n');

async function runAgent(transfer: 'mqtt' | 'http', expected: number): Promise<void> {
  const connection = await connectMqtt(url, { username: TOKEN });
  const agent = createThingsBoardAgent({
    target: { accessToken: TOKEN, baseUrl },
    connection,
    transfer,
    current: { title: 'app', version: '1.0' },
    installTarget: join(root, 'app.bin'),
    stateDirectory: join(root, 'agent'),
  });
  agent.on('transition', ({ from, to }) => console.log(`  agent: ${from} -> ${to}`));
  const outcomes: UpdateOutcome[] = [];
  agent.on('outcome', (outcome) => outcomes.push(outcome));
  await agent.start(); // asks for the attributes: the assigned package runs at once
  while (outcomes.length < expected) await new Promise((resolve) => setTimeout(resolve, 10));
  for (const { state, update, error } of outcomes) {
    console.log(`  outcome: ${state} ${update?.id ?? ''} ${error ? `(${error.message})` : ''}`);
  }
  await agent.stop();
  await connection.close();
}

const v11 = Buffer.from('firmware 1.1\n'.repeat(5000));
assigned = assign('1.1', v11, { algorithm: 'SHA256', value: createHash('sha256').update(v11).digest('hex') });
console.log('1) ThingsBoard assigns 1.1 (SHA256); the agent fetches it in MQTT chunks');
await runAgent('mqtt', 1);
console.log(`   app.bin now holds ${(await readFile(join(root, 'app.bin'))).length} bytes of 1.1\n`);

const v12 = Buffer.from('firmware 1.2\n'.repeat(5000));
assigned = assign('1.2', v12, { algorithm: 'SHA256', value: '0'.repeat(64) });
console.log('2) 1.2 with a wrong checksum: refused, FAILED with fw_error, nothing installed');
await runAgent('mqtt', 1);

// Guava (ThingsBoard) prints a CRC32's bytes little-endian.
const crc = Buffer.alloc(4);
crc.writeUInt32LE(crc32(v12));
assigned = assign('1.2', v12, { algorithm: 'CRC32', value: crc.toString('hex') });
console.log('\n3) 1.2 again with its CRC32, fetched over HTTP from the device API');
await runAgent('http', 1);
console.log(`   app.bin: ${(await readFile(join(root, 'app.bin'), 'utf8')).slice(0, 13).trim()}`);

await rm(root, { recursive: true, force: true });
http.close();
await new Promise<void>((resolve) => broker.close(() => resolve()));
mqttServer.close();
