/**
 * Footprint of an idle device agent connected to a local broker (mosquitto when installed, else
 * aedes in a process of its own), each measured process run with plain node on the built package
 * (bench/agent-child.mjs):
 *
 * - one insigh.io agent (`createInsighioAgent` from `otakit/agents/insighio` on
 *   `connectMqtt(…)`: its FileStore, download hook and installer) against a bare Node process holding the same mqtt.js
 *   connection and subscription, in turns (A B, B A…): resident memory, heap, and CPU time used
 *   while idle, medians of several runs, and the median of the pairwise RSS ratios;
 * - a gateway running `many` agents for sub-devices on ONE shared connection, and `many` agents on
 *   `many` connections (one each), against one agent: memory per additional agent.
 *
 * Each process collects garbage before it is measured (`--expose-gc`): what is compared is what an
 * idle process keeps, not the garbage its start-up left behind.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const here = import.meta.dirname;
const run = promisify(execFile);

export interface AgentFootprintOptions {
  /** Paired runs of the one-agent comparison. @default 5 */
  runs?: number;
  /** The idle window of the one-agent comparison, in ms. @default 10000 */
  idleMs?: number;
  /** Agents of the gateway measurement. @default 100 */
  many?: number;
  /** Runs of each gateway measurement. @default 3 */
  manyRuns?: number;
  /** The idle window of the gateway measurements, in ms. @default 3000 */
  manyIdleMs?: number;
}

interface Sample {
  mode: 'bare' | 'loaded' | 'agent' | 'connections';
  count: number;
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  peakRssBytes: number;
  idleCpuMs: number;
  idleSeconds: number;
}

const MB = 1024 * 1024;
const SETTLE_MS = 1_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round = (value: number, digits = 2) => Number(value.toFixed(digits));

function findMosquitto(): string | undefined {
  const candidates = [
    process.env.MOSQUITTO_PATH,
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .map((directory) => directory && join(directory, 'mosquitto')),
    '/usr/sbin/mosquitto',
    '/usr/local/sbin/mosquitto',
  ];
  return candidates.find((candidate) => {
    if (!candidate) return false;
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface Broker {
  name: 'mosquitto' | 'aedes';
  url: string;
  child: ChildProcess;
}

async function startBroker(directory: string): Promise<Broker> {
  const mosquitto = findMosquitto();
  if (mosquitto === undefined) {
    const child = spawn(process.execPath, [join(here, 'agent-broker.mjs')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await Promise.race([
      once(child.stdout!, 'data'),
      once(child, 'exit').then(() => {
        throw new Error('the aedes broker process exited before it listened');
      }),
    ])) as [Buffer];
    const { port } = JSON.parse(line.toString()) as { port: number };
    return { name: 'aedes', url: `mqtt://127.0.0.1:${port}`, child };
  }
  const port = await freePort();
  const config = join(directory, 'mosquitto.conf');
  await writeFile(
    config,
    [
      'persistence false',
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'log_dest none',
      'max_connections -1',
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      '',
    ].join('\n'),
  );
  const child = spawn(mosquitto, ['-c', config], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('mosquitto did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { name: 'mosquitto', url: `mqtt://127.0.0.1:${port}`, child };
}

async function measure(
  broker: Broker,
  directory: string,
  mode: Sample['mode'],
  count: number,
  idleMs: number,
): Promise<Sample> {
  const state = await mkdtemp(join(directory, `${mode}-`));
  try {
    const { stdout } = await run(
      process.execPath,
      [
        '--expose-gc',
        join(here, 'agent-child.mjs'),
        mode,
        broker.url,
        String(count),
        String(SETTLE_MS),
        String(idleMs),
        state,
      ],
      { maxBuffer: 1 << 20 },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Sample;
  } finally {
    await rm(state, { recursive: true, force: true });
  }
}

function summary(samples: Sample[]) {
  return {
    rssMB: round(median(samples.map((s) => s.rssBytes)) / MB),
    rssMinMaxMB: [
      round(Math.min(...samples.map((s) => s.rssBytes)) / MB),
      round(Math.max(...samples.map((s) => s.rssBytes)) / MB),
    ],
    heapUsedMB: round(median(samples.map((s) => s.heapUsedBytes)) / MB),
    peakRssMB: round(median(samples.map((s) => s.peakRssBytes)) / MB),
    idleCpuMs: round(median(samples.map((s) => s.idleCpuMs)), 1),
  };
}

export async function benchAgentFootprint(options: AgentFootprintOptions = {}) {
  const runs = options.runs ?? 5;
  const idleMs = options.idleMs ?? 10_000;
  const many = options.many ?? 100;
  const manyRuns = options.manyRuns ?? 3;
  const manyIdleMs = options.manyIdleMs ?? 3_000;
  const directory = await mkdtemp(join(tmpdir(), 'otakit-bench-agent-'));
  const broker = await startBroker(directory);
  try {
    // One agent against the bare connection (and the bare connection with otakit's code loaded),
    // in rotating order so drift hits each alike.
    const idle: Record<'bare' | 'loaded' | 'agent', Sample[]> = { bare: [], loaded: [], agent: [] };
    const modes = ['bare', 'agent', 'loaded'] as const;
    for (let index = 0; index < runs; index++) {
      for (let turn = 0; turn < modes.length; turn++) {
        const mode = modes[(index + turn) % modes.length]!;
        idle[mode].push(await measure(broker, directory, mode, 1, idleMs));
      }
    }
    const { bare, loaded, agent } = idle;
    const rssRatios = agent.map((sample, index) => sample.rssBytes / bare[index]!.rssBytes);

    // The gateway: `many` agents on one connection, `many` connections, against one agent.
    const rounds: Record<'agent1' | 'agentMany' | 'connectionsMany' | 'bare1' | 'bareMany', Sample[]> = {
      agent1: [],
      agentMany: [],
      connectionsMany: [],
      bare1: [],
      bareMany: [],
    };
    for (let index = 0; index < manyRuns; index++) {
      rounds.agent1.push(await measure(broker, directory, 'agent', 1, manyIdleMs));
      rounds.agentMany.push(await measure(broker, directory, 'agent', many, manyIdleMs));
      rounds.connectionsMany.push(await measure(broker, directory, 'connections', many, manyIdleMs));
      rounds.bare1.push(await measure(broker, directory, 'bare', 1, manyIdleMs));
      rounds.bareMany.push(await measure(broker, directory, 'bare', many, manyIdleMs));
    }
    const rss = (samples: Sample[]) => median(samples.map((s) => s.rssBytes));
    const heap = (samples: Sample[]) => median(samples.map((s) => s.heapUsedBytes));
    const perAdditional = (samples: Sample[], one: Sample[], measureOf: (s: Sample[]) => number) =>
      round((measureOf(samples) - measureOf(one)) / (many - 1) / 1024, 1);

    return {
      broker: broker.name,
      targets: { rssRatio: 1.25, perAgentMB: 2 },
      idle: {
        runs,
        idleMs,
        bare: summary(bare),
        loaded: summary(loaded),
        agent: summary(agent),
        /** Median of the pairwise ratios agent RSS ÷ bare RSS. */
        rssRatio: round(median(rssRatios), 3),
        rssRatioMinMax: [round(Math.min(...rssRatios), 3), round(Math.max(...rssRatios), 3)],
        /** CPU time while idle, as a share of one core. */
        bareIdleCpuPercent: round((median(bare.map((s) => s.idleCpuMs)) / idleMs) * 100, 3),
        agentIdleCpuPercent: round((median(agent.map((s) => s.idleCpuMs)) / idleMs) * 100, 3),
      },
      gateway: {
        agents: many,
        runs: manyRuns,
        idleMs: manyIdleMs,
        oneAgent: summary(rounds.agent1),
        sharedConnection: {
          ...summary(rounds.agentMany),
          perAdditionalAgentKB: perAdditional(rounds.agentMany, rounds.agent1, rss),
          heapPerAdditionalAgentKB: perAdditional(rounds.agentMany, rounds.agent1, heap),
        },
        ownConnections: {
          ...summary(rounds.connectionsMany),
          perAdditionalAgentKB: perAdditional(rounds.connectionsMany, rounds.agent1, rss),
          heapPerAdditionalAgentKB: perAdditional(rounds.connectionsMany, rounds.agent1, heap),
        },
        bareConnections: {
          ...summary(rounds.bareMany),
          perAdditionalConnectionKB: perAdditional(rounds.bareMany, rounds.bare1, rss),
          heapPerAdditionalConnectionKB: perAdditional(rounds.bareMany, rounds.bare1, heap),
        },
      },
      samples: { ...idle, ...rounds },
    };
  } finally {
    broker.child.kill('SIGTERM');
    await rm(directory, { recursive: true, force: true });
  }
}
