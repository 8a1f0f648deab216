/**
 * A micropython_ota agent in its own process, for the SIGKILL tests. Argument: a JSON object with
 * the root directory (`<root>/app`, `<root>/agent`), the server, the target, and optionally where
 * the process SIGKILLs itself: at an installer step, or just before it writes a given tag to the
 * `version` file. `mode: 'agent'` runs `createMicropythonOtaAgent` until its first outcome (which
 * may come from the resume at start); `mode: 'once'` calls `otaUpdate()`. Prints one JSON line per
 * event, then exits 0.
 */
import { createMicropythonOtaAgent } from '../../src/node/agents/micropython-ota.js';
import { otaUpdate } from '../../src/node/agents/micropython-ota-once.js';
import { fileChannel } from '../../src/node/file-channel.js';
import type { Channel } from '../../src/transport/channel.js';

interface ChildConfig {
  root: string;
  host: string;
  project: string;
  filenames: string[];
  layout: 'prefix' | 'subdirectory';
  user: string;
  password: string;
  mode: 'agent' | 'once';
  killAtStep?: string;
  killBeforeWriting?: string;
}

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const die = () => process.kill(process.pid, 'SIGKILL');

const files = fileChannel({ directory: `${config.root}/app`, fsync: false });
const file: Channel = {
  kind: 'file',
  async send(message, options) {
    print({ event: 'write', address: message.address, payload: message.payload });
    if (message.payload === config.killBeforeWriting) die();
    return files.send(message, options);
  },
};
const options = {
  target: {
    host: config.host,
    project: config.project,
    filenames: config.filenames,
    layout: config.layout,
    auth: { user: config.user, password: config.password },
  },
  appDirectory: `${config.root}/app`,
  stateDirectory: `${config.root}/agent`,
  // A SIGKILL is not a power cut: the page cache survives it, so fsync would only slow the test.
  fsync: false,
  file,
  download: { retry: { baseDelayMs: 10, maxDelayMs: 50 } },
  // Every chunk reported: the parent kills on a byte count, which must not fall between two events.
  machine: { progressIntervalMs: 0 },
  poll: { intervalMs: 3_600_000 },
  installer: {
    onStep: (step: string) => {
      print({ event: 'step', step });
      if (step === config.killAtStep) die();
    },
  },
};

if (config.mode === 'once') {
  const result = await otaUpdate(options);
  print({ event: 'result', result });
} else {
  const agent = createMicropythonOtaAgent(options);
  agent.on('transition', ({ to }) => print({ event: 'transition', to }));
  agent.on('progress', ({ bytes }) => print({ event: 'progress', bytes }));
  agent.on('ignored', ({ reason }) => print({ event: 'ignored', reason }));
  agent.on('error', (error) => print({ event: 'error', code: error.code, message: error.message }));
  const outcome = new Promise<unknown>((resolve) => agent.once('outcome', resolve));
  await agent.start();
  print({ event: 'started' });
  print({ event: 'outcome', outcome: await outcome });
  await agent.stop();
}
process.exit(0);
