/**
 * One orchestrator instance of a service, as its own process (so a test can SIGKILL it): an MQTT 5
 * connection, statuses through the shared subscription `$share/<group>/channels/+/messages/+/ota`,
 * the fleet and the rollouts in one PostgreSQL schema, orders sent by the insigh.io publisher.
 * Prints one JSON line per event on stdout: `ready`, `dispatched` (each order it sent) and, every
 * 500 ms, `stats` (statuses its share of the subscription brought).
 *
 * Environment: BROKER_URL, PG_URL, PG_SCHEMA, INSTANCE_ID, GROUP, CONTROL_CHANNEL, and PLAN (a
 * JSON rollout plan this instance starts; the others discover it in the store).
 */
import { Fleet } from '../../../src/cloud/fleet/fleet.js';
import { createUpdatePublisher } from '../../../src/cloud/publisher.js';
import { publisherDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import { createRolloutOrchestrator } from '../../../src/cloud/rollout/orchestrator.js';
import { createStatusIntake } from '../../../src/cloud/status-intake.js';
import { insighIo } from '../../../src/index.js';
import { connectMqtt } from '../../../src/mqtt/index.js';
import { PostgresFleetStore, PostgresRolloutStore } from '../../../src/pg/index.js';
import { mqttChannel } from '../../../src/transport/mqtt-channel.js';

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const instanceId = env('INSTANCE_ID');
const controlChannelId = env('CONTROL_CHANNEL');
const connection = await connectMqtt(env('BROKER_URL'), {
  clientId: `orchestrator-${instanceId}`,
  protocolVersion: 5,
  reconnectPeriod: 100,
});
const fleetStore = await PostgresFleetStore.open({
  connectionString: env('PG_URL'),
  schema: env('PG_SCHEMA'),
});
const rolloutStore = await PostgresRolloutStore.open({
  connectionString: env('PG_URL'),
  schema: env('PG_SCHEMA'),
});
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
  filter: `channels/${controlChannelId}/messages/+/ota`,
  group: env('GROUP'),
  targetOf: (topic) => ({ controlChannelId, deviceId: topic.split('/')[3]! }),
});
const publishing = publisherDispatcher(publisher, (deviceId) => ({ controlChannelId, deviceId }));
const orchestrator = createRolloutOrchestrator({
  store: rolloutStore,
  fleet,
  instanceId,
  pollMs: 200,
  leaseMs: 3_000,
  discoverMs: 300,
  dispatcher: {
    async dispatch(deviceId, manifest, options) {
      await publishing.dispatch(deviceId, manifest, options);
      print({ event: 'dispatched', instanceId, deviceId });
    },
  },
});
await intake.start();
await orchestrator.run();
if (process.env.PLAN !== undefined) await orchestrator.start(JSON.parse(process.env.PLAN));
setInterval(() => print({ event: 'stats', instanceId, stats: intake.stats }), 500).unref();
print({ event: 'ready', instanceId });

process.on('SIGTERM', () => {
  void (async () => {
    await orchestrator.close();
    await intake.stop();
    await Promise.all([fleetStore.close(), rolloutStore.close(), connection.close()]);
    process.exit(0);
  })();
});
