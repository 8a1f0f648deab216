/**
 * A ThingsBoard device agent in its own process, for the ThingsBoard crash campaign
 * (test/fault/crash-harness-thingsboard.ts, test/fuzz/agent-crash-thingsboard.fuzz.ts). Argument:
 * a JSON {@link ThingsBoardCrashChildConfig}. It connects to the emulator's broker with the access
 * token, runs the real agent (FileStore, MQTT chunk or HTTP download, SHA-256 checksum, the file
 * installer) and prints one JSON line per persisted transition, per download chunk, per installer
 * step and per delivered status report, each written synchronously, so a line the parent reads
 * happened. It SIGKILLs itself right after the n-th transition or installer step when told to
 * (exact kill points); the parent kills it at random byte offsets and install moments. It exits 0
 * at the first outcome, or once the package attributes hold nothing to do (the device is
 * settled); 3 when `start()` rejects (a corrupt store), printing the error's code.
 */
import { writeSync } from 'node:fs';
import { isOtaError } from '../../src/core/errors.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/agents/thingsboard.js';

export interface ThingsBoardCrashChildConfig {
  root: string;
  brokerUrl: string;
  token: string;
  /** The emulator's HTTP device API, for `transfer: 'http'`. */
  baseUrl: string;
  transfer: 'http' | 'mqtt';
  /** What the device runs before the update. */
  current: { title: string; version: string };
  /** The health check fails: the update must roll back. */
  unhealthy: boolean;
  /** `false`: a crash while installing rolls back instead of installing again. */
  installIsIdempotent: boolean;
  /** SIGKILL right after the n-th (1-based) transition of this process. */
  killAtTransition?: number;
  /** SIGKILL right after the n-th (1-based) installer step of this process. */
  killAtStep?: number;
}

const config = JSON.parse(process.argv[2]!) as ThingsBoardCrashChildConfig;
const print = (line: Record<string, unknown>) => writeSync(1, `${JSON.stringify(line)}\n`);
const die = () => process.kill(process.pid, 'SIGKILL');

const connection = await connectMqtt(config.brokerUrl, {
  username: config.token,
  reconnect: { initialMs: 20, maxMs: 100 },
});
let transitions = 0;
let steps = 0;
const agent = createThingsBoardAgent({
  target: { accessToken: config.token, baseUrl: config.baseUrl },
  connection,
  current: config.current,
  transfer: config.transfer,
  // Small chunks: many request/answer round trips, so kills land mid-download.
  chunkSize: 8 * 1024,
  chunkTimeoutMs: 5_000,
  chunkRetry: { baseDelayMs: 10, maxDelayMs: 50 },
  installTarget: `${config.root}/app.bin`,
  installAs: 'file',
  stateDirectory: `${config.root}/agent`,
  // A SIGKILL is not a power cut: the page cache survives it, so fsync would only slow the suite.
  fsync: false,
  download: { retry: { baseDelayMs: 10, maxDelayMs: 50 } },
  // Every chunk reported: the parent kills on a byte count.
  machine: { progressIntervalMs: 0, installIsIdempotent: config.installIsIdempotent },
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
agent.on('report', ({ status, delivered }) => print({ event: 'report', state: status.state, delivered }));
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
