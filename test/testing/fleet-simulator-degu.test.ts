/**
 * The fleet simulator on Degu, end to end against the real cloud side: aedes in process, the
 * self-hosted shadow service answering as AWS IoT Core, and the Degu publisher (orders written
 * into each thing's `desired`, success read from `reported`, statuses in its `Fleet`). Simulated
 * devices share one MQTT connection (each subscribed to its own shadow topics, exact topics),
 * fetch the files from a loopback server and check their MD5 against the order. Nothing is
 * timed: waits poll for a condition, their limits only catch a hang.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDeguPublisher, mqttShadows } from '../../src/cloud/degu/index.js';
import type { OtaError } from '../../src/core/errors.js';
import { degu } from '../../src/index.js';
import type { ManifestInput } from '../../src/manifest/schema.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createFaultServer, createFleetSimulator, type FaultServer } from '../../src/testing/index.js';
import { createShadowService, type ShadowService } from '../../src/testing/shadow-service.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { type LoopbackAedes, startLoopbackAedes } from '../support/aedes.js';
import { until } from '../support/system-services.js';

const md5 = (bytes: Uint8Array | string) => createHash('md5').update(bytes).digest('hex');
const SCRIPT = Buffer.from("print('B')\n");
const CONFIG = Buffer.from('interval=60\n');
const TAMPERED = Buffer.from("print('evil')\n");
const WAIT = 45_000;

let broker: LoopbackAedes;
let shadows: ShadowService;
let files: FaultServer;
let serviceConnection: MqttConnection;
let count = 0;
const cleanups: (() => Promise<unknown>)[] = [];

async function connect(name: string): Promise<MqttConnection> {
  const connection = await connectMqtt(broker.url, {
    clientId: `${name}-${process.pid}-${++count}`,
    reconnect: { initialMs: 20, maxMs: 100 },
  });
  cleanups.push(() => connection.close());
  return connection;
}

beforeAll(async () => {
  broker = await startLoopbackAedes();
  serviceConnection = await connectMqtt(broker.url, { clientId: `shadow-service-${process.pid}` });
  shadows = createShadowService({ connection: serviceConnection });
  await shadows.start();
  files = await createFaultServer();
  files.route('/main_B.py', { body: SCRIPT });
  files.route('/CONFIG_B', { body: CONFIG });
  files.route('/main_tampered.py', { body: TAMPERED });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});
afterAll(async () => {
  await shadows.stop();
  await serviceConnection.close();
  await files.close();
  await broker.close();
});

function release(script = '/main_B.py'): ManifestInput {
  return {
    id: 'release-b',
    version: '2.0.0',
    artifacts: [
      { url: `${files.url}${script}`, md5: md5(SCRIPT), target: 'script' },
      { url: `${files.url}/CONFIG_B`, md5: md5(CONFIG), target: 'config' },
    ],
  };
}

describe('fleet simulator on Degu: the real publisher and shadow service on aedes', () => {
  it('8 things: 5 install once and report their MD5s (committed), a tampered download and a failed health check say nothing, as a Degu does; a silent one never asks', async () => {
    const things = Array.from({ length: 8 }, (_, index) => `SIMDEGU${process.pid}X${++count}N${index}`);
    const [tampered, unhealthy, silent] = [things[1]!, things[4]!, things[6]!];
    const sim = createFleetSimulator<degu.Target>({
      protocol: degu.protocol,
      devices: things.map((thingName) => ({ id: thingName, target: { thingName } })),
      channels: { mqtt: mqttChannel(await connect('fleet')) },
      download: { mode: 'fetch' },
      failures: [
        { kind: 'rolled_back', devices: [unhealthy] },
        { kind: 'silent', devices: [silent] },
      ],
    });
    cleanups.push(() => sim.stop());
    const outcomes = new Map<string, { state: string; code: string | undefined }>();
    sim.on('outcome', ({ deviceId, state, error }) => outcomes.set(deviceId, { state, code: error?.code }));
    await sim.start();
    // Every device but the silent one asked for its shadow at boot (AWS sends a delta only on change).
    await until(
      () => shadows.requests.filter((request) => request.operation === 'get').length >= things.length - 1,
      () => 'the boot gets',
      WAIT,
    );

    const publisher = createDeguPublisher({
      shadow: mqttShadows(await connect('publisher')),
      clearDesiredOnSuccess: true,
    });
    const errors: OtaError[] = [];
    publisher.on('error', (error) => errors.push(error));
    cleanups.push(() => publisher.close());
    const healthy = things.filter((thing) => ![tampered, unhealthy, silent].includes(thing));
    const written = await publisher.publish(healthy.concat(unhealthy, silent), release());
    await publisher.publish(tampered, release('/main_tampered.py'));
    const updateId = written[0]!.updateId!;
    expect(updateId).toBe(`degu:script_user=${md5(SCRIPT)},config_user=${md5(CONFIG)}`);

    const results = await publisher.waitForSuccess(healthy, { timeoutMs: WAIT });
    expect(results.map((result) => result.outcome)).toEqual(healthy.map(() => 'committed'));
    for (const thing of healthy) {
      expect(await publisher.fleet.device(thing)).toMatchObject({
        state: 'committed',
        update: { id: updateId },
        protocol: 'degu',
      });
      expect(shadows.shadow({ thingName: thing })?.state.reported).toMatchObject({
        script_user_ver: md5(SCRIPT),
        config_user_ver: md5(CONFIG),
      });
    }
    expect([...sim.installCounts(updateId)].filter(([, n]) => n === 1).map(([id]) => id)).toEqual(healthy);

    // The fetch checked the MD5: the tampered bytes were refused before anything was installed.
    await until(
      () => outcomes.has(tampered) && outcomes.has(unhealthy),
      () => `the failing devices' outcomes: ${JSON.stringify([...outcomes])}`,
      WAIT,
    );
    expect(outcomes.get(tampered)).toEqual({ state: 'download_failed', code: 'INTEGRITY' });
    expect(outcomes.get(unhealthy)).toEqual({ state: 'rolled_back', code: 'HEALTH_CHECK' });
    expect(files.stats('/main_tampered.py').requests).toBe(1);
    // Degu has no word for a failure: the publisher sees the order still pending, nothing reported.
    const pending = await publisher.waitForSuccess([tampered, unhealthy, silent], { timeoutMs: 1_500 });
    expect(pending.map((result) => [result.deviceId, result.outcome, result.state])).toEqual([
      [tampered, 'pending', 'available'],
      [unhealthy, 'pending', 'available'],
      [silent, 'pending', 'available'],
    ]);
    for (const thing of [tampered, unhealthy, silent]) {
      expect(shadows.shadow({ thingName: thing })?.state.reported).toBeUndefined();
      expect(sim.installCounts(updateId).get(thing)).toBe(0);
    }
    expect(sim.device(silent)).toMatchObject({ messagesSent: 0, ordersReceived: 1 });
    expect(sim.stats().errors).toBe(0);
    expect(await publisher.fleet.anomalies()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('a device back online reads the order it missed with its boot get; the shadow read again is not installed again', async () => {
    const thingName = `SIMDEGU${process.pid}X${++count}OFF`;
    const sim = createFleetSimulator<degu.Target>({
      protocol: degu.protocol,
      devices: [{ id: thingName, target: { thingName } }],
      channels: { mqtt: mqttChannel(await connect('fleet')) },
    });
    cleanups.push(() => sim.stop());
    await sim.start();
    sim.setOffline(thingName, 60 * 60_000);
    const publisher = createDeguPublisher({ shadow: mqttShadows(await connect('publisher')) });
    cleanups.push(() => publisher.close());
    const [written] = await publisher.publish(thingName, release());
    // Away: the delta went to nobody. Back: the boot report's get finds the order.
    expect(sim.device(thingName)).toMatchObject({ offline: true, ordersReceived: 0 });
    await sim.setOnline(thingName);
    const [result] = await publisher.waitForSuccess(thingName, { timeoutMs: WAIT });
    expect(result).toMatchObject({ outcome: 'committed', updateId: written!.updateId });
    // The whole shadow once more (a get answered to anyone listening): the same order, which the
    // device runs already: nothing is run again, nothing reported.
    await sim.waitFor((simulator) => simulator.device(thingName).running === null);
    const heard = sim.device(thingName).messagesReceived;
    const sent = sim.device(thingName).messagesSent;
    const replay = await connect('replayer');
    await replay.publish(`$aws/things/${thingName}/shadow/get`, '', { qos: 1 });
    await until(
      () => sim.device(thingName).messagesReceived > heard,
      () => 'the replayed document heard',
      WAIT,
    );
    expect(sim.device(thingName)).toMatchObject({ messagesSent: sent, running: null, state: 'idle' });
    expect(sim.device(thingName).installs).toEqual({ [written!.updateId!]: 1 });
  });
});
