/**
 * The self-hosted shadow service's throughput through mosquitto: N shadow updates (reported
 * state, spread over many things, as a fleet reports) published by one client, handled by the
 * service (`update/accepted` and `update/documents` published for each), and counted when the
 * last `update/accepted` reaches a subscriber; against the same N messages merely relayed by
 * mosquitto to a subscriber of the request topic. Updates per second for both and the ratio,
 * the median of several rounds; the service on the memory store and on the file store (one
 * atomic, fsynced file write per update).
 *
 * All of it runs on one machine: publisher, subscriber, service and mosquitto share its cores,
 * so the figures are a lower bound for a service on a host of its own.
 *
 * Standalone: `npx tsx bench/shadow-service.ts` writes bench/results/shadow-service.json.
 * `BENCH_SHADOW_UPDATES` sets the updates per round (default 5000), `BENCH_SHADOW_ROUNDS` the
 * rounds (default 5), `BENCH_SHADOW_THINGS` the things they are spread over (default 100).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MemoryShadowStore } from '../src/cloud/shadow-service/memory-store.js';
import { createShadowService } from '../src/cloud/shadow-service/service.js';
import type { ShadowStore } from '../src/cloud/shadow-service/store.js';
import { connectMqtt } from '../src/mqtt/index.js';
import { createFileShadowStore } from '../src/node/cloud/file-shadow-store.js';
import type { MqttConnection } from '../src/transport/mqtt-connection.js';
import { startMosquitto } from '../test/cloud/shadow-brokers.js';

export interface ShadowServiceMeasurement {
  store: 'memory' | 'file (fsync)';
  updates: number;
  things: number;
  /** Median updates per second handled by the service (request in, `update/accepted` out). */
  serviceUpdatesPerSecond: number;
  /** Median messages per second mosquitto relays unprocessed, in the same run. */
  relayMessagesPerSecond: number;
  /** serviceUpdatesPerSecond ÷ relayMessagesPerSecond. */
  ratio: number;
  roundsService: number[];
  roundsRelay: number[];
}

export type ShadowServiceResults =
  | { broker: string; cpus: number; measurements: ShadowServiceMeasurement[] }
  | { skipped: string };

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const payloadOf = (index: number) =>
  JSON.stringify({ state: { reported: { n: index, fw: '1.0.0', rssi: -60 } }, clientToken: `t${index}` });

/**
 * Publishes `updates` requests and resolves with the updates per second, counted when
 * `expected` messages matching `filter` reached `observer`.
 */
async function timed(
  publisher: MqttConnection,
  observer: MqttConnection,
  filter: string,
  updates: number,
  things: number,
  round: number,
): Promise<number> {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const unsubscribe = await observer.subscribe(
    filter,
    () => {
      if (++received === updates) done();
    },
    { qos: 1 },
  );
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let index = 0; index < updates; index++) {
    sends.push(
      publisher.publish(`$aws/things/bench-${round}-${index % things}/shadow/update`, payloadOf(index), {
        qos: 1,
      }),
    );
  }
  await Promise.all(sends);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stalled at ${received} of ${updates} on ${filter}`)), 120_000);
  });
  await Promise.race([finished, stalled]).finally(() => clearTimeout(timer));
  const seconds = (performance.now() - started) / 1000;
  await unsubscribe();
  return updates / seconds;
}

export async function benchShadowService(): Promise<ShadowServiceResults> {
  const updates = Number(process.env.BENCH_SHADOW_UPDATES ?? 5000);
  const rounds = Number(process.env.BENCH_SHADOW_ROUNDS ?? 5);
  const things = Number(process.env.BENCH_SHADOW_THINGS ?? 100);
  // mosquitto drops QoS 1 messages beyond 1000 queued for one client by default: a burst of
  // requests (or of answers to the observer) would be cut short, so the bound is lifted.
  const broker = await startMosquitto(['max_queued_messages 0']);
  if (broker === undefined) return { skipped: 'mosquitto is not installed (apt install mosquitto)' };
  const directory = await mkdtemp(join(tmpdir(), 'otakit-bench-shadows-'));
  const connections: MqttConnection[] = [];
  const connect = async (clientId: string) => {
    const connection = await connectMqtt(broker.url, { clientId, protocolVersion: 5 });
    connections.push(connection);
    return connection;
  };
  try {
    const publisher = await connect('bench-publisher');
    const observer = await connect('bench-observer');
    const measurements: ShadowServiceMeasurement[] = [];
    const stores: Array<[ShadowServiceMeasurement['store'], () => ShadowStore | Promise<ShadowStore>]> = [
      ['memory', () => new MemoryShadowStore()],
      ['file (fsync)', () => createFileShadowStore(join(directory, `run-${measurements.length}`))],
    ];
    let round = 0;
    for (const [name, makeStore] of stores) {
      const service = createShadowService({
        connection: await connect(`bench-service-${name}`),
        store: await makeStore(),
      });
      await service.start();
      const roundsService: number[] = [];
      const roundsRelay: number[] = [];
      for (let index = 0; index < rounds; index++) {
        round++;
        // Relay: the service is not subscribed meanwhile, so mosquitto only forwards the requests.
        await service.stop();
        roundsRelay.push(
          await timed(publisher, observer, '$aws/things/+/shadow/update', updates, things, round),
        );
        await service.start();
        round++;
        roundsService.push(
          await timed(publisher, observer, '$aws/things/+/shadow/update/accepted', updates, things, round),
        );
      }
      await service.stop();
      const serviceRate = median(roundsService);
      const relayRate = median(roundsRelay);
      measurements.push({
        store: name,
        updates,
        things,
        serviceUpdatesPerSecond: Math.round(serviceRate),
        relayMessagesPerSecond: Math.round(relayRate),
        ratio: Number((serviceRate / relayRate).toFixed(3)),
        roundsService: roundsService.map(Math.round),
        roundsRelay: roundsRelay.map(Math.round),
      });
    }
    return { broker: 'mosquitto (MQTT 5, loopback)', cpus: cpus().length, measurements };
  } finally {
    await Promise.allSettled(connections.map((connection) => connection.close()));
    await broker.close();
    await rm(directory, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = await benchShadowService();
  console.table('measurements' in results ? results.measurements : [results]);
  await writeFile(
    join(import.meta.dirname, 'results', 'shadow-service.json'),
    `${JSON.stringify(results, null, 2)}\n`,
  );
}
