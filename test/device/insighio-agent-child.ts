/**
 * An insigh.io agent in its own process, for the SIGKILL tests. Argument: a JSON object with the
 * directories, the broker and package service URLs, the ids and key, and optionally the install
 * step at which the process SIGKILLs itself. Prints one JSON line per event; exits 0 after the
 * first outcome (which may come from the resume at start).
 */
import { connectMqtt } from '../../src/mqtt/index.js';
import { createInsighioAgent, insighioMqttOptions } from '../../src/node/agents/insighio.js';

interface ChildConfig {
  root: string;
  brokerUrl: string;
  baseUrl: string;
  controlChannelId: string;
  deviceId: string;
  deviceKey: string;
  clientId: string;
  killAtStep?: string;
}

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const connection = await connectMqtt(config.brokerUrl, {
  ...insighioMqttOptions({
    deviceId: config.deviceId,
    deviceKey: config.deviceKey,
    clientId: config.clientId,
  }),
  reconnectPeriod: 100,
});
const agent = createInsighioAgent({
  target: {
    controlChannelId: config.controlChannelId,
    deviceId: config.deviceId,
    baseUrl: config.baseUrl,
    allowInsecureHttp: true,
  },
  deviceKey: config.deviceKey,
  connection,
  installDirectory: `${config.root}/app`,
  stateDirectory: `${config.root}/agent`,
  download: { retry: { baseDelayMs: 10, maxDelayMs: 50 } },
  installer: {
    onStep: (step) => {
      print({ event: 'step', step });
      if (step === config.killAtStep) process.kill(process.pid, 'SIGKILL');
    },
  },
});
agent.on('transition', ({ to }) => print({ event: 'transition', to }));
agent.on('progress', ({ bytes }) => print({ event: 'progress', bytes }));
agent.on('ignored', ({ reason }) => print({ event: 'ignored', reason }));
agent.on('error', (error) => print({ event: 'error', code: error.code, message: error.message }));
const outcome = new Promise<unknown>((resolve) => agent.once('outcome', resolve));
await agent.start();
print({ event: 'started' });
print({ event: 'outcome', outcome: await outcome });
await agent.stop();
await connection.close();
process.exit(0);
