/**
 * The stand-in for your MQTT broker, for the quick start of docs/cloud/shadow-service.md: an
 * in-process broker (aedes) on loopback, and a fresh directory for the shadow files. In
 * production the service and the devices connect to your mosquitto or EMQX (TLS, a user per
 * client, the ACLs of the page), and the shadows live in a directory of their own
 * (`/var/lib/otakit/shadows`).
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';

export interface StandInBroker {
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  /** A fresh directory for the shadow store. */
  directory: string;
  close(): Promise<void>;
}

export async function startBroker(): Promise<StandInBroker> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    directory: await mkdtemp(join(tmpdir(), 'shadows-')),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
