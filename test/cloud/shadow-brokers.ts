import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { startLoopbackMosquitto } from '../support/mosquitto.js';

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

export { MOSQUITTO } from '../support/mosquitto.js';

/**
 * mosquitto (anonymous, no persistence), speaking MQTT 3.1.1 and 5 on one port; `extraConfig`
 * lines are appended to its configuration.
 */
export function startMosquitto(extraConfig: readonly string[] = []): Promise<TestBroker | undefined> {
  return startLoopbackMosquitto(extraConfig);
}
