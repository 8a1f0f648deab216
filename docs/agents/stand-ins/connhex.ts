/**
 * The stand-in for Connhex, for the quick start of docs/agents/connhex.md: a loopback release
 * server in place of `https://apis.<domain>` (its `HEAD` answers with the headers of release
 * 1.0.1: version, size, SHA-256; its `GET` with the release `.zip`, an `update.sh` and an
 * `app.py`; both need the thing key), and a channel that prints what the agent would publish on
 * the Edge's NATS bus, so no `nats-server` is needed. In production `target` names your Connhex
 * `domain` (https) and the thing's key, and `nats` is `natsChannel(await connectNats(…))` from
 * `otakit/nats`, connected to the Edge agent's NATS.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { type Channel, connhex } from 'otakit';

export interface ConnhexCloud {
  /** `http://127.0.0.1:<port>`: the release endpoint (plain http on loopback, hence `allowHttp`). */
  baseUrl: string;
  /** The thing key the release server expects (`Authorization: Thing <key>`). */
  key: string;
  /** Stands in for the NATS channel: prints each status the agent publishes. */
  nats: Channel;
  /** A fresh directory for the Edge install directory and the agent's state. */
  deviceDirectory: string;
  close(): Promise<void>;
}

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

export async function startConnhexCloud(): Promise<ConnhexCloud> {
  const key = 'thing-key';
  const release = storedZip({
    'update.sh': '#!/bin/sh\necho "1.0.1 installed"\n', // run only when the agent opts in
    'app.py': 'print("hello from 1.0.1")\n',
  });
  const sha256 = createHash('sha256').update(release).digest('hex');
  const headers = connhex.releaseHeaders({ version: '1.0.1', size: release.length, sha256 });
  const server = createServer((request, response) => {
    if (request.headers.authorization !== `Thing ${key}`) return void response.writeHead(401).end();
    if (request.method === 'HEAD') return void response.writeHead(200, headers).end();
    response.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Length': release.length });
    response.end(release);
  });
  await once(server.listen(0, '127.0.0.1'), 'listening');
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    key,
    nats: { kind: 'nats', send: async ({ address, payload }) => void console.log(address, payload) },
    deviceDirectory: await mkdtemp(join(tmpdir(), 'connhex-')),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
