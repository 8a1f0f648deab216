/**
 * The brokers the Degu publisher's tests run on: aedes in process on a loopback port (MQTT
 * 3.1.1), and Debian's mosquitto on a free loopback port speaking MQTT 5 (`undefined` when it is
 * not installed: the suite skips locally and fails in CI).
 */

import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { MOSQUITTO, startLoopbackMosquitto } from '../support/mosquitto.js';

export interface Broker {
  url: string;
  protocolVersion: 4 | 5;
  close(): Promise<void>;
}

export async function startAedes(): Promise<Broker> {
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
    protocolVersion: 4,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export { MOSQUITTO };

/** mosquitto on a free loopback port (anonymous, no persistence); `undefined` when not installed. */
export async function startMosquitto(): Promise<Broker | undefined> {
  const mosquitto = await startLoopbackMosquitto();
  return mosquitto && { ...mosquitto, protocolVersion: 5 };
}
