/**
 * The fleet simulator on Exosite Murano, end to end against the real cloud side: otakit's local
 * Murano device-API service on loopback and the Exosite publisher (`config_otau` written through
 * the management API, the devices' `otau_in` writes and acknowledgements followed over the write
 * feed into a `Fleet`). Simulated devices long-poll `config_otau` with their own token (it is in
 * each request: one HTTP channel serves them all), acknowledge each value by writing it back, and
 * download the connector content with their token. Nothing is timed: waits poll for a
 * condition, their limits only catch a hang.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createExositePublisher } from '../../src/cloud/exosite/publisher.js';
import { exosite } from '../../src/index.js';
import type { ManifestInput } from '../../src/manifest/schema.js';
import { rerouted } from '../../src/node/agents/exosite-channel.js';
import { createExositeDeviceApi, type ExositeDeviceApi } from '../../src/node/cloud/exosite-device-api.js';
import type { Protocol, WireSource } from '../../src/protocols/contract.js';
import { createFleetSimulator } from '../../src/testing/index.js';
import { httpChannel } from '../../src/transport/http-channel.js';
import { until } from '../support/system-services.js';

type Target = exosite.Target;

const PRODUCT = 'fleetsim1';
const IDENTITIES = ['sensor-1', 'sensor-2', 'sensor-3', 'sensor-4', 'sensor-5'];
const TOKENS = Object.fromEntries(
  IDENTITIES.map((identity, index) => [identity, `cik-${identity}-7b1c2d3e4f5a6b7c8${index}`]),
);
const MANAGEMENT = 'mgmt-S3cret-5e6f7a8b9c0d1e2f';
const ORIGIN = `https://${PRODUCT}.m2.exosite.io`;
const CONTENT = { 'app-2.0.0.bin': 'application 2.0.0\n', 'notes.txt': 'release notes\n' };
const WAIT = 45_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const targetOf = (identity: string): Target => ({
  productId: PRODUCT,
  identity,
  transport: 'http',
  token: TOKENS[identity]!,
  longPollTimeoutMs: 1_000,
});

const MANIFEST: ManifestInput = {
  id: '2.0.0',
  version: '2.0.0',
  artifacts: ['app-2.0.0.bin', 'notes.txt'].map((url) => ({ url, target: 'file' as const })),
  extensions: { exosite: { name: 'Application', type: 'URL_LIST' } },
};

/**
 * Exosite's protocol with the first long poll asking `If-Modified-Since` the epoch, as
 * `createExositeAgent` does: a value set before the device's first poll is answered at once
 * instead of waiting for the next change.
 */
const EPOCH = new Date(0).toUTCString();
const protocol: Protocol<string, string | number, Target> = {
  ...exosite.protocol,
  device: {
    ...exosite.protocol.device,
    orderSources: (target) =>
      exosite.protocol.device.orderSources(target).map(
        (source): WireSource =>
          source.channel === 'http'
            ? {
                ...source,
                request: {
                  ...source.request,
                  headers: { ...source.request.headers, 'if-modified-since': EPOCH },
                },
              }
            : source,
      ),
  },
};

const otauWords = (service: ExositeDeviceApi, identity: string) =>
  service
    .writesAfter(0)
    .filter((write) => write.identity === identity && write.alias === 'otau_in')
    .map((write) => (JSON.parse(write.value) as { status: string }).status);

describe('fleet simulator on Exosite: the local Murano service and the publisher', () => {
  it('5 devices long-poll, acknowledge, download with their token and report INIT … INSTALLED_VERSION (committed); one INSTALL_ERROR; one silent', async () => {
    const service = await createExositeDeviceApi({
      productId: PRODUCT,
      devices: IDENTITIES.map((identity) => ({ identity, token: TOKENS[identity]! })),
      content: CONTENT,
      managementToken: MANAGEMENT,
    });
    cleanups.push(() => service.close());
    const publisher = createExositePublisher({
      http: httpChannel({ baseUrl: service.origin, headers: { authorization: `Bearer ${MANAGEMENT}` } }),
      pollWaitMs: 1_000,
      backoff: { baseDelayMs: 20, maxDelayMs: 200 },
    });
    cleanups.push(() => publisher.close());
    const acks = new Set<string>();
    publisher.on('acknowledged', (ack) => {
      if (ack.current) acks.add(ack.target.identity);
    });
    for (const identity of IDENTITIES) await publisher.watch(targetOf(identity));

    const [failing, silent] = [IDENTITIES[0]!, IDENTITIES[3]!];
    const sim = createFleetSimulator<Target>({
      protocol,
      devices: IDENTITIES.map((identity) => ({ id: identity, target: targetOf(identity) })),
      // The device API where it really is: the loopback service instead of <productId>.m2.exosite.io.
      channels: { http: rerouted(httpChannel({ timeoutMs: 10_000 }), ORIGIN, service.origin) },
      installed: { id: '1.0.0', version: '1.0.0' },
      acknowledge: exosite.acknowledgeOrder,
      poll: { backoff: { baseDelayMs: 20, maxDelayMs: 200 } },
      download: {
        mode: 'fetch',
        // Connector content: from the device API, with the device's token.
        request: (artifact, device) => ({
          url: artifact.url.replace(ORIGIN, service.origin),
          headers: { 'x-exosite-cik': TOKENS[device.id]! },
        }),
      },
      failures: [
        { kind: 'install_failed', devices: [failing] },
        { kind: 'silent', devices: [silent] },
      ],
    });
    cleanups.push(() => sim.stop());
    const errors: string[] = [];
    sim.on('error', ({ deviceId, error }) => errors.push(`${deviceId}: ${error.message}`));
    await sim.start();
    // The boot report: INSTALLED_VERSION 1.0.0, idle in the fleet.
    const healthy = IDENTITIES.filter((id) => id !== failing && id !== silent);
    await until(
      () => [...healthy, failing].every((id) => otauWords(service, id).length === 1),
      () => 'the boot reports',
      WAIT,
    );

    for (const identity of IDENTITIES) await publisher.publish(targetOf(identity), MANIFEST);
    const stateOf = async (identity: string) => (await publisher.fleet.device(identity))?.state;
    const deadline = Date.now() + WAIT;
    for (;;) {
      const states = await Promise.all(IDENTITIES.map(stateOf));
      const done =
        healthy.every((id) => states[IDENTITIES.indexOf(id)] === 'committed') &&
        states[IDENTITIES.indexOf(failing)] === 'install_failed';
      if (done) break;
      if (Date.now() > deadline)
        throw new Error(
          `the fleet did not settle: ${JSON.stringify(states)} ${JSON.stringify(sim.stats())} ${JSON.stringify(otauWords(service, healthy[0]!))} ${JSON.stringify(errors)}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const identity of healthy) {
      expect(otauWords(service, identity)).toEqual([
        'INSTALLED_VERSION',
        'INIT',
        'DOWNLOAD',
        'DOWNLOAD_SUCCESS',
        'INSTALL',
        'INSTALL_SUCCESS',
        'INSTALLED_VERSION',
      ]);
      expect(await publisher.fleet.device(identity)).toMatchObject({
        state: 'committed',
        current: { id: '2.0.0', version: '2.0.0' },
      });
      expect(sim.device(identity).installs).toEqual({ '2.0.0': 1 });
    }
    // Exosite's word for it on the wire: INSTALL_ERROR, the fleet's install_failed.
    expect(otauWords(service, failing).at(-1)).toBe('INSTALL_ERROR');
    expect(await publisher.fleet.device(failing)).toMatchObject({
      state: 'install_failed',
      lastError: { code: 'INSTALL' },
    });
    // Every device but the silent one wrote config_otau back; the silent one wrote nothing at all.
    await until(
      () => acks.size === IDENTITIES.length - 1,
      () => `acknowledgements from every device but the silent one: ${[...acks]}`,
      WAIT,
    );
    expect(acks.has(silent)).toBe(false);
    expect(service.writesAfter(0).filter((write) => write.identity === silent)).toEqual([]);
    expect(sim.device(silent)).toMatchObject({ ordersReceived: 1, messagesSent: 0 });
    expect([...sim.installCounts('2.0.0').values()]).toEqual(
      IDENTITIES.map((id) => (healthy.includes(id) ? 1 : 0)),
    );
    expect(errors).toEqual([]);
    expect(await publisher.fleet.anomalies()).toEqual([]);
  });
});
