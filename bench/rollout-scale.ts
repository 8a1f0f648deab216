/**
 * A staged rollout at fleet scale, on 2 cores: N simulated insigh.io devices (bench/rollout/
 * devices-child.ts, their own process) on one local mosquitto, and the service (bench/rollout/
 * service-child.ts, its own process) running the whole cloud side: orchestrator, publisher,
 * status intake, fleet, with the fleet and the rollout in PostgreSQL or in memory.
 *
 * Each size is measured twice on the same devices and broker: the **relay** baseline (the same
 * orders encoded and published, the devices' reports counted, nothing else) and the **rollout**.
 * The ratio rollout / relay is what otakit's cloud side costs over the broker round trip itself.
 * Also: the service's CPU seconds and peak RSS, the simulator's peak RSS, and whether every
 * device installed the update exactly once.
 *
 * BENCH_ROLLOUT_MEMORY_SIZES (default 1000,10000,100000) and BENCH_ROLLOUT_PG_SIZES (default
 * 1000,10000) choose the sizes.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startLoopbackMosquitto } from '../test/support/mosquitto.js';
import { findPostgresBin, type PostgresServer, startPostgres } from '../test/support/postgres.js';

export interface RolloutScaleRun {
  store: 'memory' | 'postgresql';
  devices: number;
  /** Start of the rollout to its completion, ms. */
  rolloutWallMs: number;
  /** The same orders and reports without fleet, rollout or store, ms. */
  relayWallMs: number;
  /** rollout / relay. */
  ratioToRelay: number;
  serviceCpuSeconds: number;
  servicePeakRssMb: number;
  simulatorPeakRssMb: number;
  /** Devices that installed the rollout's update exactly once (must be all). */
  installedOnce: number;
  installedTwice: number;
  succeeded: number;
  /** Time for the simulator to subscribe every device, ms (not part of the rollout). */
  simulatorStartMs: number;
}

export interface RolloutScaleResults {
  broker: string;
  runs: RolloutScaleRun[];
  skipped?: string;
}

const ROOT = join(import.meta.dirname, 'rollout');

function child(script: string, args: string[]): { process: ChildProcess; lines: AsyncIterator<string> } {
  const spawned = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: spawned.stdout! })[Symbol.asyncIterator]();
  return { process: spawned, lines };
}

async function nextJson(lines: AsyncIterator<string>, what: string): Promise<Record<string, unknown>> {
  const { value, done } = await lines.next();
  if (done) throw new Error(`${what} ended without an answer`);
  return JSON.parse(value) as Record<string, unknown>;
}

async function runOnce(
  store: 'memory' | 'postgresql',
  devices: number,
  pg: { url: string } | undefined,
): Promise<RolloutScaleRun> {
  const broker = await startLoopbackMosquitto(['max_queued_messages 0', 'max_inflight_messages 0']);
  if (broker === undefined) throw new Error('mosquitto is not installed');
  const controlChannel = `bench-${store}-${devices}`;
  const schema = `rollout_bench_${process.pid}_${store}_${devices}`;
  try {
    const startedSim = performance.now();
    const sim = child('devices-child.ts', [broker.url, controlChannel, String(devices)]);
    await nextJson(sim.lines, 'the simulator');
    const simulatorStartMs = performance.now() - startedSim;
    const storeArgs = store === 'postgresql' ? ['pg', pg!.url, schema] : ['memory'];
    const relayChild = child('service-child.ts', [
      'relay',
      broker.url,
      controlChannel,
      String(devices),
      ...storeArgs,
    ]);
    const relay = await nextJson(relayChild.lines, 'the relay');
    const rolloutChild = child('service-child.ts', [
      'rollout',
      broker.url,
      controlChannel,
      String(devices),
      ...storeArgs,
    ]);
    const rollout = await nextJson(rolloutChild.lines, 'the rollout');
    sim.process.kill('SIGTERM');
    const simulator = await nextJson(sim.lines, 'the simulator');
    const run: RolloutScaleRun = {
      store,
      devices,
      rolloutWallMs: Math.round(rollout.wallMs as number),
      relayWallMs: Math.round(relay.wallMs as number),
      ratioToRelay: Number(((rollout.wallMs as number) / (relay.wallMs as number)).toFixed(2)),
      serviceCpuSeconds: Number((rollout.cpuSeconds as number).toFixed(2)),
      servicePeakRssMb: Math.round(rollout.peakRssMb as number),
      simulatorPeakRssMb: Math.round(simulator.peakRssMb as number),
      installedOnce: simulator.installedOnce as number,
      installedTwice: simulator.installedTwice as number,
      succeeded: rollout.succeeded as number,
      simulatorStartMs: Math.round(simulatorStartMs),
    };
    console.log(JSON.stringify(run));
    return run;
  } finally {
    await broker.close();
  }
}

const sizes = (variable: string, fallback: string) =>
  (process.env[variable] ?? fallback).split(',').filter(Boolean).map(Number);

export async function benchRolloutScale(): Promise<RolloutScaleResults> {
  const runs: RolloutScaleRun[] = [];
  const broker = 'mosquitto on loopback (max_queued_messages 0), one process per side';
  const bin = findPostgresBin();
  let server: PostgresServer | undefined;
  try {
    if (bin !== undefined) {
      server = await startPostgres(bin, { durable: true });
      for (const devices of sizes('BENCH_ROLLOUT_PG_SIZES', '1000,10000')) {
        runs.push(await runOnce('postgresql', devices, { url: server.url() }));
      }
    }
  } finally {
    await server?.stop();
  }
  for (const devices of sizes('BENCH_ROLLOUT_MEMORY_SIZES', '1000,10000,100000')) {
    runs.push(await runOnce('memory', devices, undefined));
  }
  return bin === undefined
    ? { broker, runs, skipped: 'PostgreSQL is not installed: memory runs only' }
    : { broker, runs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchRolloutScale();
  console.table(results.runs);
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
  };
  await writeFile(
    join(import.meta.dirname, 'results', 'rollout-scale.json'),
    `${JSON.stringify({ environment, results }, null, 2)}\n`,
  );
  console.log('written to bench/results/rollout-scale.json');
}
