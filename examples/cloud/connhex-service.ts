/**
 * A Connhex back end end to end, on loopback: `npx tsx examples/cloud/connhex-service.ts`.
 *
 * - The release endpoint (`startConnhexReleaseServer`) serves `/iot/ota/<initId>` to three
 *   Connhex Edge devices (the real Connhex agent, each in a temp directory, running 1.0.0).
 * - Their statuses travel on NATS: with a `nats-server` installed (PATH, /usr/sbin, or
 *   NATS_SERVER_PATH) one is started with an account per edge, whose `heartbeat.ota.service` the
 *   back end imports as `edges.<initId>.heartbeat.ota.service`; without it an in-process bus does
 *   the same mapping. The back end watches them all with one subscription into a fleet.
 * - It publishes a canary release to one device, then a release for everyone whose `update.sh`
 *   fails, then a fixed one, then withdraws it, printing what the fleet sees.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConnhexFleet } from '../../src/cloud/connhex-fleet-watch.js';
import { createUpdatePublisher } from '../../src/cloud/index.js';
import { connhex, Fleet, type UpdateState } from '../../src/index.js';
import { connectNats, natsChannel } from '../../src/nats/index.js';
import { startConnhexReleaseServer } from '../../src/node/cloud/connhex-release-server.js';
import { type ConnhexAgent, createConnhexAgent } from '../../src/node/index.js';
import type { Channel, InboundMessage, WireMessage, WireSource } from '../../src/transport/channel.js';

const DEVICES = ['edge-1', 'edge-2', 'edge-3'];
const KEYS = Object.fromEntries(DEVICES.map((id) => [id, `thing-key-of-${id}`]));
const root = await mkdtemp(join(tmpdir(), 'otakit-connhex-service-'));
const closers: (() => Promise<unknown>)[] = [];

// ---- NATS: a real nats-server with an account per edge, or an in-process bus -------------------

function findNatsServer(): string | undefined {
  const candidates = [
    process.env.NATS_SERVER_PATH,
    ...(process.env.PATH ?? '').split(':').map((dir) => dir && join(dir, 'nats-server')),
    '/usr/sbin/nats-server',
  ];
  return candidates.find((path) => {
    try {
      if (!path) return false;
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: '127.0.0.1' });
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The back end's channel and each edge's, over nats-server. */
async function realNats(binary: string): Promise<{ cloud: Channel; edge(id: string): Promise<Channel> }> {
  const port = await freePort();
  const file = join(root, 'nats.conf');
  await writeFile(
    file,
    [
      `listen: "127.0.0.1:${port}"`,
      'accounts {',
      ...DEVICES.map(
        (id) =>
          `  "EDGE_${id}" { users: [{ user: "${id}", password: "pw-${id}" }], exports: [{ stream: "heartbeat.ota.service" }] }`,
      ),
      '  CLOUD { users: [{ user: "cloud", password: "pw-cloud" }], imports: [',
      ...DEVICES.map(
        (id) =>
          `    { stream: { account: "EDGE_${id}", subject: "heartbeat.ota.service" }, to: "edges.${id}.heartbeat.ota.service" }`,
      ),
      '  ] }',
      '}',
    ].join('\n'),
    { mode: 0o600 },
  );
  const child: ChildProcess = spawn(binary, ['-c', file], { stdio: 'ignore' });
  closers.push(async () => {
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
  while (!(await greets(port))) await new Promise((resolve) => setTimeout(resolve, 20));
  const url = `nats://127.0.0.1:${port}`;
  const connect = async (user: string, pass: string) => {
    const connection = await connectNats(url, { user, pass });
    closers.push(() => connection.close());
    return natsChannel(connection);
  };
  return { cloud: await connect('cloud', 'pw-cloud'), edge: (id) => connect(id, `pw-${id}`) };
}

/** The same mapping in process: each edge's heartbeat.ota.service reaches the back end as edges.<id>.… */
function inProcessBus(): { cloud: Channel; edge(id: string): Promise<Channel> } {
  const listeners = new Set<{ subject: string; onMessage: (message: InboundMessage) => void }>();
  const deliver = (subject: string, payload: string) => {
    for (const { subject: pattern, onMessage } of listeners) {
      if (connhex.subjectMatches(pattern, subject))
        setTimeout(() => onMessage({ address: subject, payload }), 0);
    }
  };
  return {
    cloud: {
      kind: 'nats',
      async send(message: WireMessage) {
        deliver(message.address, message.payload);
        return undefined;
      },
      async listen(source: WireSource, onMessage: (message: InboundMessage) => void) {
        const listener = { subject: source.channel === 'nats' ? source.subject : '', onMessage };
        listeners.add(listener);
        return async () => void listeners.delete(listener);
      },
    },
    async edge(id) {
      return {
        kind: 'nats',
        async send(message: WireMessage) {
          deliver(`edges.${id}.${message.address}`, message.payload);
          return undefined;
        },
      };
    },
  };
}

const binary = findNatsServer();
console.log(
  binary ? `NATS: ${binary} (an account per edge)` : 'NATS: no nats-server found, an in-process bus',
);
const bus = binary ? await realNats(binary) : inProcessBus();

// ---- The back end: release endpoint, publisher, fleet ------------------------------------------

const endpoint = await startConnhexReleaseServer({ keys: KEYS });
closers.push(() => endpoint.close());
const fleet = new Fleet();
const publisher = createUpdatePublisher({ protocol: connhex.protocol, channels: { nats: bus.cloud }, fleet });
const reached = new Map<string, UpdateState[]>();
fleet.on('transition', ({ deviceId, from, to }) => {
  reached.set(deviceId, [...(reached.get(deviceId) ?? []), to]);
  console.log(`  fleet: ${deviceId} ${from} -> ${to}`);
});
fleet.on('anomaly', ({ deviceId, kind }) => console.log(`  fleet: ${deviceId} anomaly ${kind}`));
const stopWatching = await watchConnhexFleet(publisher, {
  nats: bus.cloud,
  subject: 'edges.*.heartbeat.ota.service',
  target: { baseUrl: endpoint.url, allowHttp: true },
});
closers.push(stopWatching);

/** Resolves once every device in `ids` reached `state` after `mark` (a count per device). */
async function reach(ids: string[], state: UpdateState, mark: Map<string, number>): Promise<void> {
  const done = () => ids.every((id) => (reached.get(id) ?? []).slice(mark.get(id) ?? 0).includes(state));
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 20));
}
const markNow = () => new Map(DEVICES.map((id) => [id, reached.get(id)?.length ?? 0]));

// ---- The devices -----------------------------------------------------------------------------

const agents: ConnhexAgent[] = [];
for (const initId of DEVICES) {
  const agent = createConnhexAgent({
    target: { baseUrl: endpoint.url, allowHttp: true, initId, key: KEYS[initId]! },
    nats: await bus.edge(initId),
    config: { autoInstall: true },
    installDirectory: join(root, initId, 'edge'),
    stateDirectory: join(root, initId, 'state'),
    currentVersion: '1.0.0',
    runUpdateScript: true,
  });
  agents.push(agent);
  closers.push(() => agent.stop());
}
const checkAll = () => Promise.all(agents.map((agent) => agent.checkNow().catch(() => null)));

try {
  console.log('1. canary: 1.1.0 for edge-1 only (the others get 404: no update)');
  let mark = markNow();
  endpoint.releases.publish({
    initId: 'edge-1',
    version: '1.1.0',
    files: { 'app.py': 'print("1.1.0")\n' },
    updateScript: '#!/bin/sh\necho "installing 1.1.0"\n',
  });
  await Promise.all(agents.map((agent) => agent.start()));
  await reach(['edge-1'], 'committed', mark);

  console.log('2. 1.2.0 for everyone, with an update.sh that fails');
  mark = markNow();
  endpoint.releases.withdraw({ initId: 'edge-1' });
  endpoint.releases.publish({
    version: '1.2.0',
    files: { 'app.py': 'print("1.2.0")\n' },
    updateScript: '#!/bin/sh\necho "missing dependency" >&2\nexit 1\n',
  });
  await checkAll();
  await reach(DEVICES, 'install_failed', mark);
  for (const id of DEVICES) console.log(`  ${id}: ${(await fleet.device(id))?.lastError?.message}`);

  console.log('3. 1.2.1 fixes it');
  mark = markNow();
  endpoint.releases.publish({
    version: '1.2.1',
    files: { 'app.py': 'print("1.2.1")\n' },
    updateScript: '#!/bin/sh\necho "installing 1.2.1"\n',
  });
  await checkAll();
  await reach(DEVICES, 'committed', mark);

  console.log('4. withdrawn: the next check finds no update');
  mark = markNow();
  endpoint.releases.withdraw();
  await checkAll();
  await reach(DEVICES, 'idle', mark);

  const { counts, devices } = await fleet.snapshot();
  console.log(`fleet: ${devices.length} devices, ${counts.idle} idle`);
  for (const device of devices)
    console.log(`  ${device.deviceId}: ${device.state}, runs ${device.current?.version}`);
} finally {
  for (const close of closers.reverse()) await close().catch(() => {});
  await rm(root, { recursive: true, force: true });
}
