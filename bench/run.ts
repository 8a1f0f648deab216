/**
 * `npm run bench` (after a build): runs every benchmark and writes `bench/results/<name>.json`.
 * Figures are ratios against a baseline measured in the same run, so they compare across
 * machines. `BENCH_MS` sets the machine benchmark's duration, `BENCH_TRANSFER_BYTES` the artifact
 * size (default 1 GiB). The browser benchmark needs Chromium (`/usr/bin/chromium` or CHROMIUM_PATH);
 * without it, it records that it was skipped. The agent footprint benchmark takes a broker
 * (mosquitto when installed, else aedes); `BENCH_AGENT_RUNS` and `BENCH_AGENT_IDLE_MS` set its
 * paired runs (default 5) and idle window (default 10 s). The rollout benchmark takes mosquitto and,
 * for its PostgreSQL runs, PostgreSQL; `BENCH_ROLLOUT_PG_SIZES` and `BENCH_ROLLOUT_MEMORY_SIZES` set
 * its fleet sizes (default 1000,10000 and 1000,10000,100000).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { benchAgentFootprint } from './agent-footprint.js';
import { benchBrowser } from './browser.js';
import { benchFleetIngest } from './fleet-ingest.js';
import { benchLimits } from './limits.js';
import { benchMachine } from './machine.js';
import { benchRolloutScale } from './rollout-scale.js';
import { benchShadowService } from './shadow-service.js';
import { benchSigning } from './signing.js';
import { benchTransfer } from './transfer.js';

const resultsDirectory = join(import.meta.dirname, 'results');
await mkdir(resultsDirectory, { recursive: true });

const environment = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
};

async function record(name: string, results: unknown): Promise<void> {
  await writeFile(
    join(resultsDirectory, `${name}.json`),
    `${JSON.stringify({ environment, results }, null, 2)}\n`,
  );
  console.log(`written to bench/results/${name}.json`);
}

console.log('update machine: persisted transitions per second');
const machine = await benchMachine(Number(process.env.BENCH_MS ?? 2_000));
console.table(machine);
await record('machine', machine);

console.log('\nwire limits: refusing a 10 MB message, against JSON.parse of it');
const limits = benchLimits();
console.table(limits);
await record('limits', limits);

console.log(
  '\nsigned orders: canonical bytes, Ed25519 verification and the trust gate, against parseManifest',
);
const signing = await benchSigning(Number(process.env.BENCH_MS ?? 1_000));
console.table(signing);
await record('signing', signing);

console.log('\ntransfer: download + MD5 + SHA-256 + atomic install, against curl');
const transfer = await benchTransfer(Number(process.env.BENCH_TRANSFER_BYTES ?? 1024 ** 3));
const { rounds: _rounds, ...summary } = transfer;
console.table(Object.entries(summary).map(([figure, value]) => ({ figure, value })));
await record('transfer', transfer);

console.log('\nbrowser (headless Chromium): web hashes against WebCrypto, downloadArtifact against fetch');
const browser = await benchBrowser();
if ('skipped' in browser) {
  console.log(`skipped: ${browser.skipped}`);
} else {
  const { rounds: _browserRounds, ...browserSummary } = browser;
  console.table(Object.entries(browserSummary).map(([figure, value]) => ({ figure, value })));
}
await record('browser', browser);

console.log('\nfleet ingestion: decoded statuses tracked and stored, memory and PostgreSQL');
const fleet = await benchFleetIngest();
console.table(fleet.measurements);
await record('fleet-ingest', fleet);

console.log('\nshadow service: updates/s through mosquitto, handled vs relayed');
const shadows = await benchShadowService();
console.table('measurements' in shadows ? shadows.measurements : [shadows]);
await record('shadow-service', shadows);

console.log('\nidle agent footprint: one insigh.io agent against a bare mqtt.js connection; 100 agents');
const agents = await benchAgentFootprint({
  runs: Number(process.env.BENCH_AGENT_RUNS ?? 5),
  idleMs: Number(process.env.BENCH_AGENT_IDLE_MS ?? 10_000),
});
const { samples: _agentSamples, ...agentSummary } = agents;
console.log(JSON.stringify(agentSummary, null, 2));
await record('agent-footprint', agents);

console.log(
  '\nstaged rollout at fleet scale: simulated insigh.io devices on mosquitto, PostgreSQL and memory stores',
);
const rollouts = await benchRolloutScale();
console.table(rollouts.runs);
await record('rollout-scale', rollouts);
