/**
 * Brokers for the shadow service's tests: aedes in process, and Debian's mosquitto on a free
 * loopback port (`undefined` when it is not installed; the caller skips locally, fails in CI).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { findSystemBinary, freePorts } from '../support/system-services.js';

export interface TestBroker {
  url: string;
  close(): Promise<void>;
}

export async function startAedes(): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    // Without it every answer waits for the client's delayed ACK (~40 ms a hop).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const MOSQUITTO = findSystemBinary('mosquitto', 'MOSQUITTO_PATH');

/**
 * mosquitto (anonymous, no persistence), speaking MQTT 3.1.1 and 5 on one port; `extraConfig`
 * lines are appended to its configuration.
 */
export async function startMosquitto(extraConfig: readonly string[] = []): Promise<TestBroker | undefined> {
  if (MOSQUITTO === undefined) return undefined;
  const directory = await mkdtemp(join(tmpdir(), 'otakit-shadow-service-mosquitto-'));
  const [port] = await freePorts(1);
  const config = join(directory, 'mosquitto.conf');
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'set_tcp_nodelay true',
      ...extraConfig,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const socket = netConnect(port!, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  const deadline = Date.now() + 15_000;
  while (!(await accepts())) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`mosquitto did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      await rm(directory, { recursive: true, force: true });
    },
  };
}
