// A Connhex agent in its own process, for the SIGKILL tests: auto_install, update.sh opted in,
// state and store on disk with fsync. Prints `transition <to>`, `progress <bytes>`, `step <name>`
// and `outcome <state>` lines; exits 0 after a committed outcome. With KILL_AT_STEP=<step> it
// prints `step <step>` and hangs there, for the parent to kill it at that durable point.
// Usage: node --import tsx connhex-agent-child.ts <root> <release url> <nats url> <initId> <key>
import { join } from 'node:path';
import { connectNats, natsChannel } from '../../src/nats/index.js';
import { createConnhexAgent } from '../../src/node/index.js';

const [root, baseUrl, natsUrl, initId, key] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const killAt = process.env.KILL_AT_STEP;
const log = (message: string, fields?: unknown) =>
  process.stderr.write(`${message} ${JSON.stringify(fields)}\n`);
const print = (line: string) => process.stdout.write(`${line}\n`);

const connection = await connectNats(natsUrl, { reconnectTimeWait: 50 });
const agent = createConnhexAgent({
  target: { baseUrl, allowHttp: true, initId, key },
  nats: natsChannel(connection),
  config: { autoInstall: true, checkIntervalMs: 60_000 },
  installDirectory: join(root, 'edge'),
  stateDirectory: join(root, 'state'),
  currentVersion: '0.0.2',
  runUpdateScript: { timeoutMs: 30_000 },
  heartbeatIntervalMs: 60_000,
  ...(process.env.CHILD_LOG ? { logger: { debug: log, info: log, warn: log, error: log } } : {}),
  poll: { backoff: { baseDelayMs: 50, maxDelayMs: 200 } },
  installer: {
    onStep: async (step) => {
      print(`step ${step}`);
      if (step === killAt) await new Promise(() => {});
    },
  },
});
agent.on('transition', ({ to }) => print(`transition ${to}`));
agent.on('progress', ({ bytes }) => print(`progress ${bytes}`));
agent.on('outcome', async (outcome) => {
  print(`outcome ${outcome.state}`);
  if (outcome.state === 'committed') {
    await agent.stop();
    await connection.close();
    process.exit(0);
  }
});
await agent.start();
