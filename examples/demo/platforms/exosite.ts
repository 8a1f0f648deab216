/**
 * Exosite Murano: the local Murano device API (device resources, long poll, the connector's
 * content area) on a loopback port; the Exosite publisher writes `config_otau` through the
 * management API and follows `otau_in` and the acknowledgements into its fleet; devices run
 * `createExositeAgent` (HTTP long poll of `config_otau`, download with their token, `otau_in`
 * statuses).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createExositePublisher } from '../../../src/cloud/exosite/publisher.js';
import { publisherDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import { createExositeAgent, type ExositeTarget } from '../../../src/node/agents/exosite.js';
import { createExositeDeviceApi } from '../../../src/node/cloud/exosite-device-api.js';
import { httpChannel } from '../../../src/transport/http-channel.js';
import {
  artifactBytes,
  Closers,
  failureOptions,
  type PlatformContext,
  type PlatformRun,
  watchAgent,
} from '../common.js';

const PRODUCT = 'otakitdemo1';

export async function startExosite(context: PlatformContext): Promise<PlatformRun> {
  const closers = new Closers();
  const tokens = Object.fromEntries(
    context.devices.map((identity) => [identity, `cik-${randomBytes(12).toString('hex')}`]),
  );
  const management = `mgmt-${randomBytes(12).toString('hex')}`;
  const murano = await createExositeDeviceApi({
    productId: PRODUCT,
    devices: context.devices.map((identity) => ({ identity, token: tokens[identity]! })),
    content: {
      'app-2.0.0.bin': new Uint8Array(artifactBytes('application 2.0.0', 512 * 1024)),
      'notes.txt': 'release notes 2.0.0\n',
    },
    managementToken: management,
  });
  closers.add(() => murano.close());
  const publisher = createExositePublisher({
    http: httpChannel({ baseUrl: murano.origin, headers: { authorization: `Bearer ${management}` } }),
    pollWaitMs: 1_000,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  closers.add(() => publisher.close());
  const targetOf = (identity: string): ExositeTarget => ({
    productId: PRODUCT,
    identity,
    transport: 'http',
    longPollTimeoutMs: 1_000,
  });

  for (const identity of context.devices) {
    await publisher.watch(targetOf(identity));
    const agent = createExositeAgent({
      target: { ...targetOf(identity), token: tokens[identity]! },
      apiOrigin: murano.origin,
      installDirectory: join(context.root, identity, 'app'),
      stateDirectory: join(context.root, identity, 'state'),
      currentVersion: '1.0.0',
      fsync: false,
      poll: { backoff: { baseDelayMs: 20, maxDelayMs: 200 } },
      ...failureOptions(context.failing.has(identity)),
    });
    watchAgent(context.watcher, identity, agent);
    closers.add(() => agent.stop({ cancel: true }));
    await agent.start();
  }

  return {
    fleet: publisher.fleet,
    dispatcher: publisherDispatcher(publisher, targetOf),
    manifest: {
      id: '2.0.0',
      version: '2.0.0',
      artifacts: ['app-2.0.0.bin', 'notes.txt'].map((url) => ({ url, target: 'file' as const })),
      extensions: { exosite: { name: 'Application', type: 'URL_LIST' } },
    },
    wiring: `Murano device + management API on ${murano.origin} (config_otau long poll, otau_in statuses)`,
    close: () => closers.run(),
  };
}
