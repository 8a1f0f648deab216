/**
 * Connhex statuses travel on NATS. With a `nats-server` installed (NATS_SERVER_PATH, PATH, or
 * /usr/sbin as Debian puts it) one is started on a free loopback port with an account per edge,
 * whose `heartbeat.ota.service` the back end imports as `edges.<initId>.heartbeat.ota.service`;
 * without one, an in-process bus does the same mapping (and the demo says so).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connhex } from '../../src/index.js';
import { connectNats, natsChannel } from '../../src/nats/index.js';
import type { Channel, InboundMessage, WireMessage, WireSource } from '../../src/transport/channel.js';
import type { Closers } from './common.js';

export interface StatusBus {
  /** What carries the statuses, for the demo's output. */
  label: string;
  cloud: Channel;
  edge(initId: string): Promise<Channel>;
}

export function findNatsServer(): string | undefined {
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

function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('INFO ')));
    socket.once('error', () => done(false));
  });
}

/** The back end's channel and each edge's, over a nats-server of our own. */
async function realNats(binary: string, directory: string, edges: string[], closers: Closers) {
  const port = await freePort();
  const file = join(directory, 'nats.conf');
  const password = (id: string) => `pw-${id}-${process.pid}`;
  await writeFile(
    file,
    [
      `listen: "127.0.0.1:${port}"`,
      'accounts {',
      ...edges.map(
        (id) =>
          `  "EDGE_${id}" { users: [{ user: "${id}", password: "${password(id)}" }], exports: [{ stream: "heartbeat.ota.service" }] }`,
      ),
      `  CLOUD { users: [{ user: "cloud", password: "${password('cloud')}" }], imports: [`,
      ...edges.map(
        (id) =>
          `    { stream: { account: "EDGE_${id}", subject: "heartbeat.ota.service" }, to: "edges.${id}.heartbeat.ota.service" }`,
      ),
      '  ] }',
      '}',
    ].join('\n'),
    { mode: 0o600 },
  );
  const child: ChildProcess = spawn(binary, ['-c', file], { stdio: 'ignore' });
  closers.add(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
  const deadline = Date.now() + 10_000;
  while (!(await greets(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${binary} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const url = `nats://127.0.0.1:${port}`;
  const connect = async (user: string) => {
    const connection = await connectNats(url, { user, pass: password(user), reconnectTimeWait: 50 });
    closers.add(() => connection.close());
    return natsChannel(connection);
  };
  return { url, cloud: await connect('cloud'), edge: (id: string) => connect(id) };
}

/** The same subject mapping in process: each edge's heartbeat reaches the back end as edges.<id>.… */
function inProcessBus(): Omit<StatusBus, 'label'> {
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

export async function startStatusBus(
  directory: string,
  edges: string[],
  closers: Closers,
): Promise<StatusBus> {
  const binary = findNatsServer();
  if (binary !== undefined) {
    const nats = await realNats(binary, directory, edges, closers);
    return { label: `nats-server ${nats.url} (${binary}, an account per edge)`, ...nats };
  }
  return {
    label: 'IN-PROCESS STATUS BUS (no nats-server found: install it, or set NATS_SERVER_PATH, for real NATS)',
    ...inProcessBus(),
  };
}
