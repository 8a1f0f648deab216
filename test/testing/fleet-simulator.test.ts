/**
 * The fleet simulator's own rules, platform by platform tests aside (fleet-simulator-<platform>):
 * seeded fault picking, configuration errors, stop and start, `waitFor` on a ManualClock, and
 * the memory a device costs. The devices here speak insigh.io over a real aedes broker where
 * anything is sent; the memory measurement gives them a channel that does nothing, so that only
 * the simulator's own bytes are counted.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import { insighIo } from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import {
  createFleetSimulator,
  type FleetSimulatorOptions,
  ManualClock,
  seededRandom,
} from '../../src/testing/index.js';
import type { Channel } from '../../src/transport/channel.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { type LoopbackAedes, startLoopbackAedes } from '../support/aedes.js';
import { until } from '../support/system-services.js';

type Target = insighIo.Target;

let broker: LoopbackAedes;
let connection: MqttConnection;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  broker = await startLoopbackAedes();
  connection = await connectMqtt(broker.url, { clientId: `fleet-sim-rules-${process.pid}` });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});
afterAll(async () => {
  await connection.close();
  await broker.close();
});

const targets = (n: number, prefix = 'dev'): Target[] =>
  Array.from({ length: n }, (_, index) => ({ controlChannelId: 'cc-rules', deviceId: `${prefix}-${index}` }));

function simulate(devices: Target[], options: Partial<FleetSimulatorOptions<Target>> = {}) {
  const sim = createFleetSimulator<Target>({
    protocol: insighIo.protocol,
    devices: devices.map((target) => ({ id: target.deviceId, target })),
    channels: { mqtt: mqttChannel(connection) },
    ...options,
  });
  cleanups.push(() => sim.stop());
  return sim;
}

/** A retained order for `target`, as the console publishes it. */
async function order(target: Target, fileId = 'f2a0c1d3e4b5a697'): Promise<void> {
  const { value: messages } = insighIo.protocol.cloud.encodeOrder(
    {
      id: fileId,
      version: fileId,
      artifacts: [
        {
          url: `https://console.insigh.io/mf-rproxy/packages/download?fuid=${fileId}&did=${target.deviceId}&cid=${target.controlChannelId}`,
          size: 1024,
          target: 'package',
          name: `${fileId}.tar`,
        },
      ],
    },
    target,
  );
  for (const message of messages) {
    await connection.publish(message.address, message.payload, { retain: message.retain ?? false, qos: 1 });
  }
}

describe('faults', () => {
  it('a rate picks the same devices for the same seed, others for another seed, about the rate of them', () => {
    const devices = targets(2_000);
    const failing = (seed: number) =>
      simulate(devices, { failures: { kind: 'download_failed', rate: 0.1 }, random: seededRandom(seed) })
        .devices()
        .filter((device) => device.failure !== null)
        .map((device) => device.id);
    const first = failing(1);
    expect(failing(1)).toEqual(first);
    expect(failing(2)).not.toEqual(first);
    expect(first.length).toBeGreaterThan(100);
    expect(first.length).toBeLessThan(300);
  });

  it('named devices take the first rule that names them; the rest are drawn', () => {
    const sim = simulate(targets(4), {
      failures: [
        { kind: 'silent', devices: ['dev-1'] },
        { kind: 'rolled_back', devices: ['dev-1', 'dev-2'] },
        { kind: 'install_failed', rate: 1 },
      ],
    });
    expect(sim.devices().map((device) => device.failure)).toEqual([
      'install_failed',
      'silent',
      'rolled_back',
      'install_failed',
    ]);
  });

  it('with attempts: 1 the first attempt fails and the order, delivered again, is retried and installs', async () => {
    const [target] = targets(1, `retry${process.pid}`);
    const sim = simulate([target!], {
      failures: { kind: 'verify_failed', devices: [target!.deviceId], attempts: 1 },
    });
    const outcomes: string[] = [];
    sim.on('outcome', (event) => outcomes.push(event.state));
    await sim.start();
    await order(target!);
    await until(
      () => outcomes.length === 1,
      () => 'the first attempt',
    );
    expect(sim.device(target!.deviceId)).toMatchObject({ installed: null, installs: {} });
    await order(target!); // the same order again (the console publishes it once more)
    await until(
      () => outcomes.length === 2,
      () => 'the second attempt',
    );
    expect(outcomes).toEqual(['verify_failed', 'committed']);
    expect(sim.device(target!.deviceId).installs).toEqual({ f2a0c1d3e4b5a697: 1 });
  });
});

describe('configuration', () => {
  const rejects = (options: Partial<FleetSimulatorOptions<Target>>, devices = targets(2)) => {
    try {
      simulate(devices, options);
    } catch (error) {
      return isOtaError(error) ? `${error.code}: ${error.message}` : String(error);
    }
    return 'created';
  };

  it('names what is wrong: a duplicate id, a missing channel, a bad rule, an invalid target', () => {
    expect(rejects({}, [...targets(2), ...targets(1)])).toBe(
      'CONFIG: Two simulated devices have the id "dev-0"',
    );
    expect(rejects({ channels: {} })).toMatch(/^CONFIG: insighIo takes orders over mqtt: give device dev-0/);
    expect(rejects({ failures: { kind: 'exploded' as never } })).toMatch(
      /^CONFIG: failures\[0\]\.kind must be one of/,
    );
    expect(rejects({ failures: { kind: 'silent', rate: 2 } })).toBe(
      'CONFIG: failures[0].rate must be a number from 0 to 1',
    );
    expect(rejects({}, [{ controlChannelId: 'cc', deviceId: '' }])).toMatch(
      /^CONFIG: Every simulated device needs an id/,
    );
    expect(rejects({}, [{ controlChannelId: 'c c', deviceId: 'x' }])).toMatch(
      /^MANIFEST_INVALID: .*controlChannelId/,
    );
    const sendOnly: Channel = { kind: 'mqtt', send: async () => undefined };
    expect(rejects({ channels: { mqtt: sendOnly } })).toBe(
      'CONFIG: The mqtt channel of device dev-0 cannot listen',
    );
  });
});

describe('stop, start and waitFor on a ManualClock', () => {
  it('stop() mid-update ends it quietly; start() brings the devices back at rest, and the retained order runs again', async () => {
    const [target] = targets(1, `stop${process.pid}`);
    const clock = new ManualClock();
    const sim = simulate([target!], { clock, latency: { download: 10_000 } });
    const states: string[] = [];
    sim.on('status', (event) => states.push(event.status.state));
    await sim.start();
    await order(target!);
    await sim.waitFor(() => sim.device(target!.deviceId).state === 'downloading', { timeoutMs: 60_000 });
    await sim.stop();
    expect(sim.running).toBe(false);
    await clock.advance(10_000);
    expect(states).toEqual(['available', 'downloading']);
    expect(sim.device(target!.deviceId)).toMatchObject({ state: 'idle', running: null, installed: null });

    await sim.start(); // subscribes again: the retained order comes back and runs from the start
    await sim.waitFor(() => sim.device(target!.deviceId).state === 'downloading');
    await clock.advance(10_000);
    await sim.waitFor(
      () => sim.device(target!.deviceId).installed !== null && sim.device(target!.deviceId).state === 'idle',
    );
    expect(states.slice(2)).toEqual([
      'available',
      'downloading',
      'downloaded',
      'verifying',
      'installing',
      'installed',
      'committed',
      'idle',
    ]);
  });

  it('waitFor times out on the simulator’s clock, and gives up when its signal aborts', async () => {
    const clock = new ManualClock();
    const sim = simulate(targets(1), { clock });
    const timedOut = sim.waitFor(() => false, { timeoutMs: 5_000 });
    const caught = timedOut.catch((error: unknown) => error);
    await clock.advance(4_999);
    await clock.advance(1);
    expect(await caught).toMatchObject({ code: 'TIMEOUT' });
    const controller = new AbortController();
    const aborted = sim.waitFor(() => false, { signal: controller.signal }).catch((error: unknown) => error);
    controller.abort();
    expect(await aborted).toMatchObject({ code: 'ABORTED' });
  });
});

describe('memory', () => {
  it('10 000 started devices cost the simulator under 1.5 KiB each (measured about 0.5 KiB)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // A channel that subscribes nothing and sends nothing: only the simulator's bytes count.
    const idle: Channel = { kind: 'mqtt', send: async () => undefined, listen: async () => async () => {} };
    const devices = targets(10_000, 'mem').map((target) => ({ id: target.deviceId, target }));
    const heap = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heap();
    const sim = createFleetSimulator<Target>({
      protocol: insighIo.protocol,
      devices,
      channels: { mqtt: idle },
    });
    await sim.start();
    const perDevice = (heap() - before) / devices.length;
    expect(sim.stats()).toMatchObject({ devices: 10_000, byState: { idle: 10_000 } });
    await sim.stop();
    expect(perDevice).toBeGreaterThan(100); // measured something: the devices were alive
    expect(perDevice).toBeLessThan(1_536);
  });
});
