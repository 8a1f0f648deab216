/**
 * insigh.io: an in-process aedes broker stands in for the console's Mainflux broker; the real
 * publisher packs the release into a package (`.tar.gz`), stores it for the package server
 * (device-key check, Range) and sends the retained SenML order; devices run
 * `createInsighioAgent`, download with their device key, unpack, and report SenML `e` = 1/2,
 * which the publisher's fleet reads.
 */
import { join } from 'node:path';
import { MemoryPackageStore } from '../../../src/cloud/insighio/package-store.js';
import { createInsighIoPublisher } from '../../../src/cloud/insighio/publisher.js';
import type { RolloutDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import { MemoryStore } from '../../../src/core/store.js';
import { Fleet, type insighIo } from '../../../src/index.js';
import { connectMqtt } from '../../../src/mqtt/index.js';
import { createInsighioAgent, insighioMqttOptions } from '../../../src/node/agents/insighio.js';
import { startInsighIoPackageServer } from '../../../src/node/cloud/insighio-package-server.js';
import { mqttChannel } from '../../../src/transport/mqtt-channel.js';
import {
  artifactBytes,
  Closers,
  dataOf,
  dataUrl,
  failureOptions,
  type PlatformContext,
  type PlatformRun,
  startBroker,
  watchAgent,
} from '../common.js';

const CONTROL_CHANNEL = 'ctrl-demo';

export async function startInsighio(context: PlatformContext): Promise<PlatformRun> {
  const closers = new Closers();
  const broker = await startBroker();
  closers.add(() => broker.close());
  const keyOf = (deviceId: string) => `dk-${deviceId}-demo`;

  const packages = new MemoryPackageStore();
  const fleet = new Fleet();
  const service = await connectMqtt(broker.url, { clientId: 'insighio-service' });
  closers.add(() => service.close());
  const publisher = createInsighIoPublisher({
    mqtt: mqttChannel(service),
    store: new MemoryStore(),
    packages,
    fleet,
  });
  closers.add(() => publisher.close());
  const server = await startInsighIoPackageServer({
    packages,
    deviceKey: ({ deviceId, controlChannelId }) =>
      controlChannelId === CONTROL_CHANNEL ? keyOf(deviceId) : undefined,
  });
  closers.add(() => server.close());
  const targetOf = (deviceId: string): insighIo.Target => ({
    controlChannelId: CONTROL_CHANNEL,
    deviceId,
    baseUrl: server.baseUrl,
    allowInsecureHttp: true,
  });

  for (const deviceId of context.devices) {
    const deviceKey = keyOf(deviceId);
    await publisher.watch(targetOf(deviceId));
    const connection = await connectMqtt(broker.url, insighioMqttOptions({ deviceId, deviceKey }));
    const agent = createInsighioAgent({
      target: targetOf(deviceId),
      deviceKey,
      connection,
      installDirectory: join(context.root, deviceId, 'app'),
      stateDirectory: join(context.root, deviceId, 'agent'),
      fsync: false,
      ...failureOptions(context.failing.has(deviceId)),
    });
    watchAgent(context.watcher, deviceId, agent);
    closers.add(() => connection.close());
    closers.add(() => agent.stop({ cancel: true }));
    await agent.start();
  }

  // The insigh.io publisher takes a release (files), not a canonical manifest: the files travel
  // in the manifest as data: URLs, and this dispatcher hands them over.
  const dispatcher: RolloutDispatcher = {
    async dispatch(deviceId, order, { signal }) {
      await publisher.publish(
        targetOf(deviceId),
        {
          id: order.id,
          version: order.version,
          format: 'insighio-zlib',
          files: order.artifacts.map((artifact) => ({ path: artifact.name!, data: dataOf(artifact.url) })),
        },
        signal === undefined ? {} : { signal },
      );
    },
    withdraw: async (deviceId) => void (await publisher.withdraw(targetOf(deviceId))),
  };
  return {
    fleet,
    dispatcher,
    manifest: {
      id: 'sensor-app',
      version: '2.0.0',
      artifacts: [
        { url: dataUrl(Buffer.from('print("sensor-app 2.0.0")\n')), target: 'file', name: 'boot.py' },
        { url: dataUrl(artifactBytes('model 2.0.0', 256 * 1024)), target: 'file', name: 'lib/model.bin' },
      ],
    },
    wiring: `aedes ${broker.url} (retained SenML orders, e=1/2 statuses) + package server ${server.baseUrl}`,
    close: () => closers.run(),
  };
}
