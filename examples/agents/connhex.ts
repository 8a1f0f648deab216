/**
 * A Connhex Edge agent updating itself end to end, on loopback servers it starts itself:
 * `npx tsx examples/agents/connhex.ts`.
 *
 * - A release server answers the device's `HEAD` with the release headers of 0.0.3 (version,
 *   size, SHA-256) and its `GET` with the `.zip` (an `update.sh` and a payload file).
 * - The statuses go on NATS `heartbeat.ota.service` through `otakit/nats` when a `nats-server` is
 *   installed (PATH, /usr/sbin, or NATS_SERVER_PATH; started here on a free port), and a "cloud"
 *   connection prints what it receives. Without nats-server a stand-in channel prints them.
 * - `agent.toml` turns on `auto_install`; `update.sh` runs because the agent opts in.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { connhex } from '../../src/index.js';
import { connectNats, natsChannel } from '../../src/nats/index.js';
import { createConnhexAgent } from '../../src/node/index.js';
import type { Channel } from '../../src/transport/channel.js';

/** A zip of stored (uncompressed) files: enough for a release. */
function storedZip(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const fileName = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE((0o100755 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, data);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

function findNatsServer(): string | undefined {
  const candidates = [
    process.env.NATS_SERVER_PATH,
    ...(process.env.PATH ?? '').split(':').map((dir) => `${dir}/nats-server`),
    '/usr/sbin/nats-server',
  ];
  return candidates.find((path) => {
    try {
      if (path) accessSync(path, constants.X_OK);
      return Boolean(path);
    } catch {
      return false;
    }
  });
}

async function freePort(): Promise<number> {
  const server = createNetServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const dir = await mkdtemp(join(tmpdir(), 'otakit-connhex-example-'));
const release = storedZip({
  'update.sh': '#!/bin/sh\necho "update.sh ran in $PWD"\ncp new_service.py ../../../new_service.py\n',
  'new_service.py': 'print("hello from 0.0.3")\n',
});
const sha256 = createHash('sha256').update(release).digest('hex');

// The release server: HEAD = the release headers, GET = the zip; both need the thing key.
const KEY = 'thing-key-example';
const releaseServer = createServer((request, response) => {
  if (request.headers.authorization !== `Thing ${KEY}`) return void response.writeHead(401).end();
  const headers = connhex.releaseHeaders({ version: '0.0.3', size: release.length, sha256 });
  if (request.method === 'HEAD') return void response.writeHead(200, headers).end();
  response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': release.length });
  response.end(release);
});
await once(releaseServer.listen(0, '127.0.0.1'), 'listening');
const baseUrl = `http://127.0.0.1:${(releaseServer.address() as AddressInfo).port}`;

// NATS: a real nats-server when there is one, else a stand-in that prints.
let natsServer: ChildProcess | undefined;
let nats: Channel;
const closers: (() => Promise<unknown>)[] = [];
const binary = findNatsServer();
if (binary !== undefined) {
  const port = await freePort();
  natsServer = spawn(binary, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const url = `nats://127.0.0.1:${port}`;
  let connection: Awaited<ReturnType<typeof connectNats>> | undefined;
  for (let attempt = 0; connection === undefined; attempt++) {
    connection = await connectNats(url, { timeout: 1_000 }).catch((error) => {
      if (attempt > 50) throw error;
      return new Promise<undefined>((resolve) => setTimeout(resolve, 100));
    });
  }
  const cloud = await connectNats(url, { name: 'cloud' });
  cloud.subscribe(connhex.OTA_STATUS_SUBJECT, {
    callback: (_error, message) => console.log(`cloud <- ${message.subject} ${message.string()}`),
  });
  await cloud.flush();
  nats = natsChannel(connection);
  closers.push(
    () => connection.close(),
    () => cloud.close(),
  );
  console.log(`nats-server on ${url}`);
} else {
  console.log('no nats-server found: the statuses are printed instead of published');
  nats = {
    kind: 'nats',
    send: async ({ address, payload }) => void console.log(`nats -> ${address} ${payload}`),
  };
}

const configFile = join(dir, 'agent.toml');
await writeFile(configFile, "[ota]\nauto_install = true\ncheck_interval = '1h'\n");
const agent = createConnhexAgent({
  target: { baseUrl, allowHttp: true, initId: 'edge-42', key: KEY },
  nats,
  configFile,
  installDirectory: join(dir, 'edge'),
  stateDirectory: join(dir, 'state'),
  currentVersion: '0.0.2',
  runUpdateScript: { timeoutMs: 30_000 },
});
agent.on('transition', ({ from, to }) => console.log(`agent: ${from} -> ${to}`));
const outcome = new Promise((resolve) => agent.once('outcome', resolve));
await agent.start();
console.log('outcome:', await outcome);
console.log('installed:', await readdir(join(dir, 'edge/.store/ota/current')));
console.log('copied by update.sh:', await readFile(join(dir, 'edge/new_service.py'), 'utf8'));
// Let the last status reach the cloud before closing.
await new Promise((resolve) => setTimeout(resolve, 100));

await agent.stop();
for (const close of closers) await close();
natsServer?.kill();
releaseServer.close();
await rm(dir, { recursive: true, force: true });
