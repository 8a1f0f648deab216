// A Connhex agent in its own process, for the cloud test of a device that goes offline mid-update:
// auto_install, update.sh opted in, state and store on disk with fsync, NATS login of its edge
// account. Prints `step <name>` and `outcome <state>` lines; exits 0 after a committed outcome.
// With KILL_AT_STEP=<step> it prints `step <step>` and hangs there, for the parent to kill it.
// Usage: node --import tsx connhex-cloud-agent-child.ts <root> <release url> <nats url> <initId> <key>
// (NATS user and password in NATS_USER / NATS_PASS, so they are not on the command line).
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
const print = (line: string) => process.stdout.write(`${line}\n`);

const connection = await connectNats(natsUrl, {
  reconnectTimeWait: 50,
  user: process.env.NATS_USER!,
  pass: process.env.NATS_PASS!,
});
const agent = createConnhexAgent({
  target: { baseUrl, allowHttp: true, initId, key },
  nats: natsChannel(connection),
  config: { autoInstall: true, checkIntervalMs: 60_000 },
  installDirectory: join(root, 'edge'),
  stateDirectory: join(root, 'state'),
  currentVersion: '1.0.0',
  runUpdateScript: { timeoutMs: 30_000 },
  heartbeatIntervalMs: 60_000,
  poll: { backoff: { baseDelayMs: 50, maxDelayMs: 200 } },
  installer: {
    onStep: async (step) => {
      print(`step ${step}`);
      if (step === killAt) await new Promise(() => {});
    },
  },
});
agent.on('outcome', async (outcome) => {
  print(`outcome ${outcome.state}`);
  if (outcome.state === 'committed') {
    await agent.stop();
    await connection.close();
    process.exit(0);
  }
});
await agent.start();
