/**
 * Connhex Edge: the release endpoint (`startConnhexReleaseServer`, `/iot/ota/<initId>`) on a
 * loopback port; the generic update publisher with the Connhex protocol PUTs each edge's release
 * to it (publisher token), and follows the edges' `heartbeat.ota.service` statuses on NATS
 * (`watchConnhexFleet`) into its fleet; edges run `createConnhexAgent` (HEAD check every
 * `check_interval`, download with the thing key, SHA-256, unzip, `update.sh`).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { watchConnhexFleet } from '../../../src/cloud/connhex-fleet-watch.js';
import { connhexPublisherChannel } from '../../../src/cloud/connhex-publisher-channel.js';
import { createUpdatePublisher } from '../../../src/cloud/publisher.js';
import type { RolloutDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import { connhex, Fleet } from '../../../src/index.js';
import { createConnhexAgent } from '../../../src/node/agents/connhex.js';
import { startConnhexReleaseServer } from '../../../src/node/cloud/connhex-release-server.js';
import { httpChannel } from '../../../src/transport/http-channel.js';
import {
  artifactBytes,
  Closers,
  failureOptions,
  type PlatformContext,
  type PlatformRun,
  watchAgent,
} from '../common.js';
import { startStatusBus } from '../nats.js';

export async function startConnhex(context: PlatformContext): Promise<PlatformRun> {
  const closers = new Closers();
  const edges = context.devices;
  const keys = Object.fromEntries(edges.map((edge) => [edge, `thing-${randomBytes(12).toString('hex')}`]));
  const token = `publisher-${randomBytes(12).toString('hex')}`;
  const bus = await startStatusBus(context.root, edges, closers);
  context.note(`statuses: ${bus.label}`);
  const endpoint = await startConnhexReleaseServer({ keys, publisherToken: token });
  closers.add(() => endpoint.close());

  const fleet = new Fleet();
  const publisher = createUpdatePublisher({
    protocol: connhex.protocol,
    channels: { http: connhexPublisherChannel(httpChannel({ timeoutMs: 10_000 }), token), nats: bus.cloud },
    fleet,
  });
  closers.add(() => publisher.close());
  closers.add(
    await watchConnhexFleet(publisher, {
      nats: bus.cloud,
      subject: 'edges.*.heartbeat.ota.service',
      target: { baseUrl: endpoint.url, allowHttp: true },
    }),
  );

  for (const initId of edges) {
    const agent = createConnhexAgent({
      target: { baseUrl: endpoint.url, allowHttp: true, initId, key: keys[initId]! },
      nats: await bus.edge(initId),
      config: { autoInstall: true, checkIntervalMs: 300 },
      installDirectory: join(context.root, initId, 'edge'),
      stateDirectory: join(context.root, initId, 'state'),
      currentVersion: '1.0.0',
      runUpdateScript: true,
      fsync: false,
      ...failureOptions(context.failing.has(initId)),
    });
    watchAgent(context.watcher, initId, agent);
    closers.add(() => agent.stop({ cancel: true }));
    await agent.start();
  }

  const { sha256, size } = endpoint.releases.addPackage({
    files: {
      'service.py': 'print("service 1.1.0")\n',
      'model.bin': new Uint8Array(artifactBytes('model 1.1.0', 384 * 1024)),
    },
    updateScript: '#!/bin/sh\necho "installing 1.1.0"\n',
  });
  const releaseUrl = (initId: string) => `${endpoint.url}/iot/ota/${initId}`;
  // A Connhex edge downloads from its own release endpoint only: each order names that edge's
  // endpoint, which serves the package the endpoint holds by its SHA-256.
  const dispatcher: RolloutDispatcher = {
    async dispatch(initId, order, { signal }) {
      const own = { ...order, artifacts: [{ ...order.artifacts[0]!, url: releaseUrl(initId) }] };
      await publisher.publish(
        { baseUrl: endpoint.url, allowHttp: true, initId },
        own,
        signal === undefined ? {} : { signal },
      );
    },
    withdraw: async (initId) =>
      void (await publisher.withdraw({ baseUrl: endpoint.url, allowHttp: true, initId })),
  };
  return {
    fleet,
    dispatcher,
    manifest: {
      id: '1.1.0',
      version: '1.1.0',
      artifacts: [{ url: releaseUrl(edges[0]!), sha256, size, target: 'package' }],
    },
    wiring: `release endpoint ${endpoint.url} (HEAD every 300 ms), statuses on NATS`,
    close: () => closers.run(),
  };
}
