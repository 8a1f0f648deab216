/**
 * The stand-in for the Exosite quick start of docs/cloud/exosite.md: one device running otakit's
 * Exosite agent (`createExositeAgent`, HTTP long poll) against the local Murano service the quick
 * start starts, installing into a temporary directory. In production the devices are in the field
 * and talk to `<productId>.m2.exosite.io`, or to your development service.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExositeAgent } from 'otakit/node';

export interface ExositeStandInDevice {
  close(): Promise<void>;
}

/** Starts a device with `token` against `apiOrigin` (the service's origin), running version 1.0.0. */
export async function startExositeDevice(
  device: { productId: string; identity: string; token: string },
  apiOrigin: string,
): Promise<ExositeStandInDevice> {
  const directory = await mkdtemp(join(tmpdir(), 'exosite-device-'));
  const agent = createExositeAgent({
    target: { ...device, transport: 'http', longPollTimeoutMs: 5_000 },
    apiOrigin, // loopback http is accepted for a loopback host only
    installDirectory: join(directory, 'app'),
    stateDirectory: join(directory, 'agent'),
    currentVersion: '1.0.0',
  });
  await agent.start();
  return {
    async close() {
      await agent.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
