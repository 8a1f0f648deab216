/**
 * The service side of the rollout benchmark, in its own process, so its wall time, CPU and peak
 * RSS are its own. Two modes over the same devices:
 * - `rollout`: the whole cloud side: a staged rollout (canary 1 %, 10 %, 100 %) through the
 *   orchestrator, orders through the insigh.io publisher, statuses through one wildcard
 *   subscription into the fleet in batches, the fleet and the rollout in memory or PostgreSQL;
 * - `relay` (the baseline): the same orders encoded by the same codec and published, and the
 *   devices' `e` = 1 reports counted, with no fleet, no rollout and no store.
 * Prints one JSON line with the figures.
 *
 * argv: <mode> <broker url> <control channel> <devices> <memory|pg> [pg url] [schema]
 */
import { Fleet } from '../../src/cloud/fleet/fleet.js';
import { MemoryFleetStore } from '../../src/cloud/fleet/memory-store.js';
import { createUpdatePublisher } from '../../src/cloud/publisher.js';
import { publisherDispatcher } from '../../src/cloud/rollout/dispatcher.js';
import { MemoryRolloutStore } from '../../src/cloud/rollout/memory-store.js';
import { createRolloutOrchestrator } from '../../src/cloud/rollout/orchestrator.js';
import type { RolloutStore } from '../../src/cloud/rollout/store.js';
import { createStatusIntake } from '../../src/cloud/status-intake.js';
import { insighIo } from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { PostgresFleetStore, PostgresRolloutStore } from '../../src/pg/index.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';

const [mode, url, controlChannelId, devicesArgument, storeKind, pgUrl, schema] = process.argv.slice(2);
const count = Number(devicesArgument);
const deviceIds = Array.from({ length: count }, (_, index) => `dev-${String(index).padStart(6, '0')}`);
const manifest = {
  id: `fw-${mode}`,
  version: '2.0.0',
  artifacts: [{ url: `https://updates.example/fw-${mode}.tar`, target: 'package' as const, size: 4096 }],
};
const filter = `channels/${controlChannelId}/messages/+/ota`;
const targetOf = (deviceId: string) => ({ controlChannelId: controlChannelId!, deviceId });
const connection = await connectMqtt(url!, { clientId: `bench-service-${mode}`, protocolVersion: 5 });
const cpuBefore = process.cpuUsage();

async function relay(): Promise<Record<string, unknown>> {
  let committed = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  await connection.subscribe(
    filter,
    (message) => {
      // e = 1 is a device's "updated"; everything else (the order echo) is not counted.
      if (new TextDecoder().decode(message.payload).includes('"n":"e","v":1}') && ++committed === count)
        resolveDone();
    },
    { qos: 1 },
  );
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const deviceId = deviceIds[next++]!;
      for (const wire of insighIo.protocol.cloud.encodeOrder(manifest, targetOf(deviceId)).value) {
        await connection.publish(wire.address, wire.payload, { qos: 1, retain: wire.retain ?? false });
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  await done;
  return { wallMs: performance.now() - started };
}

async function rollout(): Promise<Record<string, unknown>> {
  const fleetStore =
    storeKind === 'pg'
      ? await PostgresFleetStore.open({ connectionString: pgUrl!, schema: schema!, maxConnections: 8 })
      : new MemoryFleetStore();
  const rolloutStore: RolloutStore =
    storeKind === 'pg'
      ? await PostgresRolloutStore.open({ connectionString: pgUrl!, schema: schema!, maxConnections: 4 })
      : new MemoryRolloutStore();
  const fleet = new Fleet({ store: fleetStore });
  const publisher = createUpdatePublisher({
    protocol: insighIo.protocol,
    channels: { mqtt: mqttChannel(connection) },
    fleet,
  });
  const intake = createStatusIntake({
    fleet,
    protocol: insighIo.protocol,
    connection,
    filter,
    targetOf: (topic) => targetOf(topic.split('/')[3]!),
    batchSize: 1_000,
    batchDelayMs: 10,
  });
  await intake.start();
  const orchestrator = createRolloutOrchestrator({
    store: rolloutStore,
    fleet,
    dispatcher: publisherDispatcher(publisher, targetOf),
    roundSize: 5_000,
    settleDelayMs: 10,
  });
  const started = performance.now();
  await orchestrator.start({
    id: 'bench',
    manifest,
    devices: deviceIds,
    waves: [{ name: 'canary', percent: 1 }, { percent: 10 }, { percent: 100 }],
    deviceTimeoutMs: 600_000,
  });
  const done = await orchestrator.waitFor('bench');
  const wallMs = performance.now() - started;
  await orchestrator.close();
  await intake.stop();
  await Promise.all([fleetStore.close(), rolloutStore.close()]);
  return {
    wallMs,
    state: done.state,
    succeeded: done.totals.succeeded,
    statuses: intake.stats,
  };
}

const figures = mode === 'relay' ? await relay() : await rollout();
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(
  `${JSON.stringify({
    ...figures,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
await connection.close();
process.exit(0);
