/**
 * A micropython_ota device agent in its own process, for the crash-injection suites
 * (test/fault/agent-crash.test.ts, test/fuzz/agent-crash.fuzz.ts). Argument: a JSON
 * {@link CrashChildConfig}. It runs the real agent (FileStore, resumable file download hook,
 * directory installer) and prints one JSON line per persisted transition, per download chunk and
 * per installer step, each written synchronously, so a line the parent reads happened. It
 * SIGKILLs itself right after the n-th transition or installer step when told to (exact kill
 * points); the parent kills it at random byte offsets and install moments. It exits 0 at the
 * first outcome, or once an order check finds nothing to do (the device is settled); 3 when
 * `start()` rejects (a corrupt store), printing the error's code.
 */
import { writeSync } from 'node:fs';
import { isOtaError } from '../../src/core/errors.js';
import { createMicropythonOtaAgent } from '../../src/node/agents/micropython-ota.js';

export interface CrashChildConfig {
  root: string;
  host: string;
  project: string;
  filenames: string[];
  /** The health check fails: the update must roll back. */
  unhealthy: boolean;
  /** `false`: a crash while installing rolls back instead of installing again. */
  installIsIdempotent: boolean;
  /** SIGKILL right after the n-th (1-based) transition of this process. */
  killAtTransition?: number;
  /** SIGKILL right after the n-th (1-based) installer step of this process. */
  killAtStep?: number;
}

const config = JSON.parse(process.argv[2]!) as CrashChildConfig;
const print = (line: Record<string, unknown>) => writeSync(1, `${JSON.stringify(line)}\n`);
const die = () => process.kill(process.pid, 'SIGKILL');

let transitions = 0;
let steps = 0;
const agent = createMicropythonOtaAgent({
  target: { host: config.host, project: config.project, filenames: config.filenames, layout: 'prefix' },
  appDirectory: `${config.root}/app`,
  stateDirectory: `${config.root}/agent`,
  // A SIGKILL is not a power cut: the page cache survives it, so fsync would only slow the suite.
  fsync: false,
  download: { retry: { baseDelayMs: 10, maxDelayMs: 50 } },
  // Every chunk reported: the parent kills on a byte count.
  machine: { progressIntervalMs: 0, installIsIdempotent: config.installIsIdempotent },
  poll: { intervalMs: 3_600_000 },
  hooks: config.unhealthy ? { healthCheck: async () => false } : {},
  installer: {
    onStep: (step) => {
      steps += 1;
      print({ event: 'step', step, n: steps });
      if (steps === config.killAtStep) die();
    },
  },
});
agent.on('transition', ({ from, to, resumed }) => {
  transitions += 1;
  print({ event: 'transition', from, to, resumed, n: transitions });
  if (transitions === config.killAtTransition) die();
});
agent.on('progress', ({ bytes }) => print({ event: 'progress', bytes }));
agent.on('error', (error) => print({ event: 'error', code: error.code, message: error.message }));
agent.on('outcome', (outcome) => {
  print({ event: 'outcome', state: outcome.state, update: outcome.update?.id ?? null });
  process.exit(0);
});
agent.on('ignored', ({ reason }) => {
  print({ event: 'ignored', reason });
  if (reason === 'already_installed' || reason === 'no_order') {
    print({ event: 'settled' });
    process.exit(0);
  }
});
try {
  await agent.start();
  print({ event: 'started' });
} catch (error) {
  print({ event: 'fatal', code: isOtaError(error) ? error.code : null, message: String(error) });
  process.exit(3);
}
