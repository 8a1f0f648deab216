import { startLoopbackAedes } from '../support/aedes.js';
import { startLoopbackMosquitto } from '../support/mosquitto.js';

export interface TestBroker {
  url: string;
  close(): Promise<void>;
}

export function startAedes(): Promise<TestBroker> {
  return startLoopbackAedes();
}

export { MOSQUITTO } from '../support/mosquitto.js';

/**
 * mosquitto (anonymous, no persistence), speaking MQTT 3.1.1 and 5 on one port; `extraConfig`
 * lines are appended to its configuration.
 */
export function startMosquitto(extraConfig: readonly string[] = []): Promise<TestBroker | undefined> {
  return startLoopbackMosquitto(extraConfig);
}
