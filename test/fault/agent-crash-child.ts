/**
 * A micropython_ota device agent in its own process, for the crash-injection campaign
 * (test/fault/crash-harness.ts, test/fuzz/agent-crash.fuzz.ts). Argument: a JSON
 * {@link CrashChildConfig}. It runs the real agent (FileStore, resumable file download hook,
 * directory installer) and prints one JSON line per persisted transition, per download chunk and
 * per installer step, each written synchronously, so a line the parent reads happened. It
 * SIGKILLs itself right after the n-th transition or installer step when told to (exact kill
 * points); the parent kills it at random byte offsets and install moments. It exits 0 at the
 * first outcome, or once an order check finds nothing to do (the device is settled); 3 when
 * `start()` rejects (a corrupt store), printing the error's code (crash-child-kit.ts).
 */
import { createMicropythonOtaAgent } from '../../src/node/agents/micropython-ota.js';
import { crashChild, type KillConfig } from './crash-child-kit.js';

export interface CrashChildConfig extends KillConfig {
  root: string;
  host: string;
  project: string;
  filenames: string[];
  /** The health check fails: the update must roll back. */
  unhealthy: boolean;
  /** `false`: a crash while installing rolls back instead of installing again. */
  installIsIdempotent: boolean;
}

const config = JSON.parse(process.argv[2]!) as CrashChildConfig;
const child = crashChild(config);
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
  installer: { onStep: child.onStep },
});
await child.run(agent);
