// One measured process of the agent footprint benchmark (bench/agent-footprint.ts), run with plain
// node (no loader, which would add its own memory) on the built package, as a user runs an agent:
//
//   node --expose-gc bench/agent-child.mjs <mode> <brokerUrl> <count> <settleMs> <idleMs> <stateDir>
//
// Modes:
//   bare         <count> mqtt.js connections, each subscribed to what one agent subscribes to;
//                no otakit loaded (the baseline)
//   loaded       as bare, with otakit's entries imported but no agent created (the cost of
//                loading the code, apart from the agents' own state)
//   agent        one connection (connectMqtt) carrying <count> insigh.io agents (sub-devices of
//                one gateway): createInsighioAgent from otakit/agents/insighio, each with its
//                FileStore, download hook and installer
//   connections  <count> connections (connectMqtt), one agent on each
//
// Once everything is connected and subscribed it waits <settleMs>, collects garbage, then stays
// idle for <idleMs> and prints one JSON line: RSS and heap (after a last collection), peak RSS,
// and the CPU time (user + system) the process used while idle. OTAKIT_DIST overrides the build
// directory (default dist/).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, url, countText, settleText, idleText, stateDirectory] = process.argv.slice(2);
const count = Number(countText);
const dist = process.env.OTAKIT_DIST ?? join(import.meta.dirname, '..', 'dist');
const load = (entry) => import(pathToFileURL(join(dist, entry)).href);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One insigh.io sub-device: what its agent subscribes to (its control topics). */
function device(index) {
  return {
    controlChannelId: randomUUID(),
    deviceId: randomUUID(),
    deviceKey: randomUUID(),
    // Never contacted: an idle agent downloads nothing.
    baseUrl: 'http://127.0.0.1:9/mf-rproxy',
    allowInsecureHttp: true,
    index,
  };
}
const devices = Array.from({ length: count }, (_, index) => device(index));
const filter = (d) => `channels/${d.controlChannelId}/messages/${d.deviceId}/#`;
const clientOptions = (d) => ({
  clientId: `bench-${d.deviceId}`,
  username: d.deviceId,
  password: d.deviceKey,
  keepalive: 60,
  protocolVersion: 4,
});

/** Keeps everything reachable, so nothing measured is collected. */
const held = [];

if (mode === 'bare' || mode === 'loaded') {
  const { default: mqtt } = await import('mqtt');
  if (mode === 'loaded') {
    // What the agent mode imports, kept reachable.
    held.push(await load('node/agents/insighio.js'), await load('mqtt/index.js'));
  }
  for (const d of devices) {
    const client = await mqtt.connectAsync(url, { ...clientOptions(d), reconnectPeriod: 1_000 });
    await client.subscribeAsync(filter(d), { qos: 1 });
    client.on('message', () => {});
    held.push(client);
  }
} else {
  // The insigh.io preset from its own entry (`otakit/agents/insighio`), as an agent process
  // imports it: only this platform's code is loaded.
  const { createInsighioAgent } = await load('node/agents/insighio.js');
  const { connectMqtt } = await load('mqtt/index.js');
  const shared = mode === 'agent' ? await connectMqtt(url, clientOptions(devices[0])) : undefined;
  for (const d of devices) {
    const { index, deviceKey, ...target } = d;
    const directory = join(stateDirectory, `agent-${index}`);
    const agent = createInsighioAgent({
      target,
      deviceKey,
      connection: shared ?? (await connectMqtt(url, clientOptions(d))),
      installDirectory: join(directory, 'app'),
      stateDirectory: join(directory, 'state'),
    });
    await agent.start();
    held.push(agent);
  }
}

await sleep(Number(settleText));
globalThis.gc?.();
const before = process.cpuUsage();
const started = performance.now();
await sleep(Number(idleText));
const cpu = process.cpuUsage(before);
const idleSeconds = (performance.now() - started) / 1000;
globalThis.gc?.();
const memory = process.memoryUsage();
console.log(
  JSON.stringify({
    mode,
    count,
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    externalBytes: memory.external,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    idleCpuMs: (cpu.user + cpu.system) / 1000,
    idleSeconds,
  }),
);
process.exit(0);
