/**
 * An Exosite agent (HTTP long poll) in its own process, for the SIGKILL tests. Argument: a JSON
 * object with the directories, the emulation's origin and the device's ids and token, and
 * optionally the install step at which the process SIGKILLs itself. Prints one JSON line per
 * event; exits 0 after the first outcome (which may come from the resume at start).
 */
import { createExositeAgent } from '../../src/node/index.js';

interface ChildConfig {
  root: string;
  origin: string;
  productId: string;
  identity: string;
  token: string;
  killAtStep?: string;
}

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const agent = createExositeAgent({
  target: {
    productId: config.productId,
    identity: config.identity,
    transport: 'http',
    token: config.token,
    longPollTimeoutMs: 2_000,
  },
  apiOrigin: config.origin,
  installDirectory: `${config.root}/app`,
  stateDirectory: `${config.root}/agent`,
  currentVersion: '1.0.0',
  fsync: false,
  download: { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } },
  poll: { backoff: { baseDelayMs: 20, maxDelayMs: 100 } },
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
process.exit(0);
