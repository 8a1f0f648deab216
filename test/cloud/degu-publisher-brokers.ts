/**
 * The brokers the Degu publisher's tests run on: aedes in process on a loopback port (MQTT
 * 3.1.1), and Debian's mosquitto on a free loopback port speaking MQTT 5 (`undefined` when it is
 * not installed: the suite skips locally and fails in CI).
 */

import { startLoopbackAedes } from '../support/aedes.js';
import { MOSQUITTO, startLoopbackMosquitto } from '../support/mosquitto.js';

export interface Broker {
  url: string;
  protocolVersion: 4 | 5;
  close(): Promise<void>;
}

export async function startAedes(): Promise<Broker> {
  return { ...(await startLoopbackAedes()), protocolVersion: 4 };
}

export { MOSQUITTO };

/** mosquitto on a free loopback port (anonymous, no persistence); `undefined` when not installed. */
export async function startMosquitto(): Promise<Broker | undefined> {
  const mosquitto = await startLoopbackMosquitto();
  return mosquitto && { ...mosquitto, protocolVersion: 5 };
}
