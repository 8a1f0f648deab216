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
 * settled); 3 when `start()` rejects (a corrupt store), printing the error's code
 * (crash-child-kit.ts).
 */
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/agents/thingsboard.js';
import { statusToTelemetry } from '../../src/protocols/thingsboard/status.js';
import { crashChild, type KillConfig } from './crash-child-kit.js';

export interface ThingsBoardCrashChildConfig extends KillConfig {
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
}

const config = JSON.parse(process.argv[2]!) as ThingsBoardCrashChildConfig;
// What the agent sent for each status, in ThingsBoard's words (the protocol's own mapping).
const child = crashChild(config, {
  report: (status) => ({ fw: statusToTelemetry(status).map((telemetry) => telemetry.fw_state) }),
});
const connection = await connectMqtt(config.brokerUrl, {
  username: config.token,
  reconnect: { initialMs: 20, maxMs: 100 },
});
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
  installer: { onStep: child.onStep },
});
await child.run(agent);
