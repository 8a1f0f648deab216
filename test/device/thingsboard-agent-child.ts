/**
 * A ThingsBoard agent in its own process, for the SIGKILL tests. Argument: a JSON object with the
 * directories, the broker URL, the token, the chunk size, and optionally the install step at which
 * the process SIGKILLs itself. Prints one JSON line per event; exits 0 after the first outcome
 * (which may come from the resume at start).
 */
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/agents/thingsboard.js';

interface ChildConfig {
  root: string;
  brokerUrl: string;
  token: string;
  chunkSize: number;
  killAtStep?: string;
}

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const connection = await connectMqtt(config.brokerUrl, {
  username: config.token,
  reconnect: { initialMs: 20, maxMs: 100 },
});
const agent = createThingsBoardAgent({
  target: { accessToken: config.token },
  connection,
  current: { title: 'app', version: '1.0' },
  chunkSize: config.chunkSize,
  chunkTimeoutMs: 2_000,
  installTarget: `${config.root}/app.bin`,
  stateDirectory: `${config.root}/agent`,
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
