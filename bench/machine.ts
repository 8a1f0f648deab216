/**
 * Persisted transitions per second of the device machine, over the memory store and the file
 * store, each against a baseline measured in the same run: the same store writing the same
 * record without the machine (so the ratio is the machine's own overhead).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createUpdateMachine,
  type JsonValue,
  type Manifest,
  MemoryStore,
  type StateStore,
} from '../src/index.js';
import { machineStoreKey } from '../src/machine/machine-base.js';
import { FileStore } from '../src/node/index.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function manifest(index: number): Manifest {
  return {
    id: `bench-${index}`,
    version: `1.0.${index}`,
    artifacts: [{ url: 'https://cdn.example/app.bin', size: 0, sha256: EMPTY_SHA256, target: 'file' }],
  };
}

export interface Measurement {
  store: string;
  machineTransitionsPerSecond: number;
  baselineWritesPerSecond: number;
  /** Machine transitions per second ÷ raw store writes per second. */
  ratioToBaseline: number;
  transitions: number;
  updates: number;
}

async function machineRate(store: StateStore, durationMs: number) {
  const machine = createUpdateMachine({
    id: 'bench',
    store,
    hooks: {
      download: async () => [{ location: 'memory', size: 0, sha256: EMPTY_SHA256 }],
      install: async () => {},
    },
  });
  let transitions = 0;
  machine.on('transition', () => {
    transitions += 1;
  });
  let updates = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs) {
    const outcome = await machine.apply(manifest(updates));
    if (outcome.state !== 'committed') throw new Error(`bench update ended ${outcome.state}`);
    updates += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    perSecond: transitions / seconds,
    transitions,
    updates,
    record: await store.get(machineStoreKey('bench')),
  };
}

async function baselineRate(store: StateStore, record: JsonValue, durationMs: number) {
  let writes = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs) {
    await store.put('baseline', record);
    writes += 1;
  }
  return writes / ((performance.now() - started) / 1000);
}

export async function benchMachine(durationMs = 2_000): Promise<Measurement[]> {
  const directory = await mkdtemp(join(tmpdir(), 'otakit-bench-'));
  try {
    const stores: [string, () => StateStore][] = [
      ['memory', () => new MemoryStore()],
      ['file (fsync)', () => new FileStore(join(directory, 'fsync'))],
      ['file (no fsync)', () => new FileStore(join(directory, 'nofsync'), { fsync: false })],
    ];
    const results: Measurement[] = [];
    for (const [name, make] of stores) {
      const machine = await machineRate(make(), durationMs);
      const baseline = await baselineRate(make(), machine.record ?? {}, durationMs);
      results.push({
        store: name,
        machineTransitionsPerSecond: Math.round(machine.perSecond),
        baselineWritesPerSecond: Math.round(baseline),
        ratioToBaseline: Number((machine.perSecond / baseline).toFixed(3)),
        transitions: machine.transitions,
        updates: machine.updates,
      });
    }
    return results;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
