/**
 * Two service instances share one rollout: each a separate process (instance-process.ts) on one
 * mosquitto (statuses through the MQTT 5 shared subscription `$share/rollout/…`) and one
 * PostgreSQL (fleet and rollouts in one schema, rounds holding the rollout row with SKIP LOCKED,
 * devices claimed with FOR UPDATE SKIP LOCKED). Instance A starts the rollout; once a third of
 * the fleet is ordered it is SIGKILLed. Instance B must finish it: every device updated exactly once
 * (counted on the simulated devices, which hear every order), the rollout completed, every device
 * succeeded. Without mosquitto or PostgreSQL the file skips locally and fails in CI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutPlanInput } from '../../../src/cloud/rollout/plan.js';
import { insighIo } from '../../../src/index.js';
import { connectMqtt } from '../../../src/mqtt/index.js';
import { PostgresRolloutStore } from '../../../src/pg/index.js';
import { createFleetSimulator, type FleetSimulator, seededRandom } from '../../../src/testing/index.js';
import { mqttChannel } from '../../../src/transport/mqtt-channel.js';
import type { MqttConnection } from '../../../src/transport/mqtt-connection.js';
import { eventually } from '../../support/async.js';
import { bundled } from '../../support/bundle.js';
import { type LoopbackMosquitto, MOSQUITTO, startLoopbackMosquitto } from '../../support/mosquitto.js';
import { findPostgresBin, type PostgresServer, startPostgres } from '../../support/postgres.js';
import { skipOrFailInCi } from '../../support/system-services.js';

const PG_BIN = findPostgresBin();
const MISSING = [MOSQUITTO === undefined ? 'mosquitto' : '', PG_BIN === undefined ? 'PostgreSQL' : '']
  .filter(Boolean)
  .join(' and ');
const DEVICES = 160;
const CONTROL_CHANNEL = 'cc-rollout';
const SCHEMA = 'rollout_multi';

interface Instance {
  id: string;
  child: ChildProcess;
  dispatched: string[];
  stats: { received: number; applied: number } | undefined;
  ready: Promise<void>;
  exited: Promise<number | null>;
}

/** The instance process bundled once: each starts as plain node, not through tsx. */
let instanceBundle: string;
beforeAll(async () => {
  instanceBundle = await bundled(`${import.meta.dirname}/instance-process.ts`);
});

function startInstance(id: string, env: Record<string, string>): Instance {
  const child = spawn(process.execPath, [instanceBundle], {
    env: { ...process.env, ...env, INSTANCE_ID: id },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const instance: Instance = {
    id,
    child,
    dispatched: [],
    stats: undefined,
    ready: Promise.resolve(),
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  instance.ready = new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`instance ${id} exited (${code}) before ready: ${stderr}`)),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as { event: string; deviceId?: string; stats?: Instance['stats'] };
      if (event.event === 'ready') resolve();
      else if (event.event === 'dispatched') instance.dispatched.push(event.deviceId!);
      else if (event.event === 'stats') instance.stats = event.stats;
    });
  });
  return instance;
}

if (MISSING !== '') {
  describe('rollout shared by two instances', () => {
    it('has mosquitto and PostgreSQL to run against', (context) =>
      skipOrFailInCi(context, `${MISSING} not installed (apt install mosquitto postgresql)`));
  });
}

describe.skipIf(MISSING !== '')('rollout shared by two instances (mosquitto, PostgreSQL)', () => {
  let broker: LoopbackMosquitto;
  let database: PostgresServer;
  const connections: MqttConnection[] = [];
  let sim: FleetSimulator<insighIo.Target>;
  const instances: Instance[] = [];

  beforeAll(async () => {
    // Deep queues: a burst of 240 orders to one simulator connection must not be dropped.
    broker = (await startLoopbackMosquitto(['max_queued_messages 100000']))!;
    database = await startPostgres(PG_BIN!);
    for (let index = 0; index < 4; index++) {
      connections.push(
        await connectMqtt(broker.url, {
          clientId: `fleet-sim-${index}`,
          protocolVersion: 5,
          reconnectPeriod: 100,
        }),
      );
    }
    sim = createFleetSimulator<insighIo.Target>({
      protocol: insighIo.protocol,
      devices: Array.from({ length: DEVICES }, (_, index) => {
        const deviceId = `dev-${String(index).padStart(4, '0')}`;
        return {
          id: deviceId,
          target: { controlChannelId: CONTROL_CHANNEL, deviceId },
          channels: { mqtt: mqttChannel(connections[index % connections.length]!) },
        };
      }),
      latency: { download: [100, 400], install: [50, 200] },
      // An order heard again for the installed update is confirmed, as the insigh.io agent does.
      replays: 'confirm',
      random: seededRandom(7),
    });
    await sim.start();
  }, 120_000);

  afterAll(async () => {
    for (const instance of instances) instance.child.kill('SIGKILL');
    await sim?.stop();
    await Promise.all(connections.map((connection) => connection.close()));
    await broker?.close();
    await database?.stop();
  });

  it('finishes a rollout whose first instance was killed mid-way, every device updated exactly once', async () => {
    const plan: RolloutPlanInput = {
      id: 'shared-rollout',
      manifest: {
        id: 'fw-shared',
        version: '2.0.0',
        artifacts: [{ url: 'https://updates.example/fw-shared.tar', target: 'package', size: 100 }],
      },
      devices: sim.ids(),
      waves: [{ name: 'canary', count: 5 }, { percent: 25 }, { percent: 100 }],
      pace: { perMinute: 600 },
      deviceTimeoutMs: 15_000,
      retry: { attempts: 3, backoffMs: 1_000 },
    };
    const env = {
      BROKER_URL: broker.url,
      PG_URL: database.url(),
      PG_SCHEMA: SCHEMA,
      GROUP: 'rollout',
      CONTROL_CHANNEL,
    };
    const first = startInstance('A', { ...env, PLAN: JSON.stringify(plan) });
    instances.push(first);
    await first.ready;
    const second = startInstance('B', env);
    instances.push(second);
    await second.ready;

    const store = await PostgresRolloutStore.open({ connectionString: database.url(), schema: SCHEMA });
    try {
      // Killed mid-dispatch: a third of the fleet ordered (by A, and B if it held a round), the
      // rest still pending, so the survivor has orders of its own to send.
      await eventually(
        async () => {
          const counts = await store.counts(plan.id);
          const pending = counts.byWave.reduce((sum, wave) => sum + (wave.pending ?? 0), 0);
          return pending <= (DEVICES * 2) / 3 && first.dispatched.length > 0;
        },
        'a third of the fleet ordered',
        { timeoutMs: 90_000, intervalMs: 20 },
      );
      first.child.kill('SIGKILL');
      await first.exited;
      const orderedByFirst = first.dispatched.length;

      await eventually(
        async () => (await store.rollout(plan.id))?.state === 'completed',
        'the rollout completed',
        {
          timeoutMs: 120_000,
          intervalMs: 100,
        },
      );
      const counts = await store.counts(plan.id);
      const totals = counts.byWave.reduce<Record<string, number>>((sum, wave) => {
        for (const [state, count] of Object.entries(wave)) sum[state] = (sum[state] ?? 0) + (count ?? 0);
        return sum;
      }, {});
      expect(totals.succeeded).toBe(DEVICES);

      // Exactly once, where it counts: on the devices.
      const installs = sim.installCounts('fw-shared');
      expect(installs.size).toBe(DEVICES);
      for (const [deviceId, count] of installs) expect(count, deviceId).toBe(1);

      // The survivor finished it: it ordered devices after the kill, and both took statuses.
      expect(orderedByFirst).toBeGreaterThan(0);
      expect(second.dispatched.length).toBeGreaterThan(0);
      // Not asserted: that the orders A and B printed add up to the fleet. An order A published
      // right before the SIGKILL reaches its device, which installs it, yet A never prints it (CI
      // once saw 159 of 160). The installs above and the store below are what count.
      await eventually(() => (second.stats?.applied ?? 0) > 0, 'statuses applied by the survivor', {
        timeoutMs: 10_000,
      });
      const lastOrders = await store.devices(plan.id, { state: 'succeeded' });
      expect(lastOrders).toHaveLength(DEVICES);
    } finally {
      await store.close();
    }
  }, 240_000);
});
