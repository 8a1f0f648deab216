/**
 * The simulated fleet of the rollout benchmark, in its own process: N insigh.io devices over
 * ⌈N / 2 000⌉ MQTT connections, each device subscribed to its own OTA topic as the firmware is,
 * no latency (what is measured is the service, not the devices). Prints `{"ready":true}` once every
 * device listens, and on SIGTERM its stats and peak RSS.
 *
 * argv: <broker url> <control channel> <devices>
 */
import { insighIo } from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createFleetSimulator } from '../../src/testing/index.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';

const [url, controlChannelId, devicesArgument] = process.argv.slice(2);
const count = Number(devicesArgument);
const perConnection = 2_000;
const connections: MqttConnection[] = [];
for (let index = 0; index < Math.ceil(count / perConnection); index++) {
  connections.push(await connectMqtt(url!, { clientId: `bench-fleet-${index}`, reconnectPeriod: 200 }));
}
const sim = createFleetSimulator<insighIo.Target>({
  protocol: insighIo.protocol,
  devices: Array.from({ length: count }, (_, index) => {
    const deviceId = `dev-${String(index).padStart(6, '0')}`;
    return {
      id: deviceId,
      target: { controlChannelId: controlChannelId!, deviceId },
      channels: { mqtt: mqttChannel(connections[Math.floor(index / perConnection)]!) },
    };
  }),
  startConcurrency: 256,
});
await sim.start();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

process.on('SIGTERM', () => {
  void (async () => {
    const stats = sim.stats();
    const installs = [...sim.installCounts('fw-rollout').values()];
    process.stdout.write(
      `${JSON.stringify({
        stats,
        installedOnce: installs.filter((n) => n === 1).length,
        installedTwice: installs.filter((n) => n > 1).length,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
      })}\n`,
    );
    await sim.stop();
    await Promise.all(connections.map((connection) => connection.close()));
    process.exit(0);
  })();
});
