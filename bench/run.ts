/**
 * `npm run bench`: runs every benchmark and writes `bench/results/<name>.json`. Figures are
 * ratios against a baseline measured in the same run, so they compare across machines.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { benchMachine } from './machine.js';

const resultsDirectory = join(import.meta.dirname, 'results');
await mkdir(resultsDirectory, { recursive: true });

const environment = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
};

console.log('update machine: persisted transitions per second');
const machine = await benchMachine(Number(process.env.BENCH_MS ?? 2_000));
console.table(machine);
await writeFile(
  join(resultsDirectory, 'machine.json'),
  `${JSON.stringify({ environment, results: machine }, null, 2)}\n`,
);
console.log(`written to ${join('bench/results', 'machine.json')}`);
