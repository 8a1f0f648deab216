/**
 * Attack: credentials leaking, insigh.io. The device key (`dk`) travels in the MQTT password and
 * in the package download's query. A whole update through the real insigh.io agent (aedes in
 * process, the loopback package service): a committed package and a corrupt one (size mismatch).
 * Every log line, every event the agent emits, every error, every MQTT payload the broker saw and
 * every file the agent persisted is scanned: the key (raw, base64, URL-encoded) appears nowhere.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createInsighioAgent, insighioMqttOptions } from '../../src/node/agents/insighio.js';
import { orderPublication } from '../../src/protocols/insighio/publish.js';
import { startAedes, startPackageServer } from '../device/insighio-support.js';
import { makeTar } from '../protocols/insighio/fixtures.js';
import { until } from '../support/system-services.js';
import { capturingLogger, expectNoSecret, filesUnder, forms, recordEmits, strings } from './leak-scan.js';

const KEY = 'dk-Attack-Leak-9d2e71';
const CC = 'ctrl-attack';
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => {});
});

describe('attack: credentials leaking (insigh.io device key)', () => {
  it('a committed and a failed update: the key is in no log, event, error, wire payload or stored file', async () => {
    const broker = await startAedes();
    closers.push(() => broker.stop());
    const packages = await startPackageServer({ deviceKey: KEY, controlChannelId: CC });
    closers.push(() => packages.close());
    const root = await mkdtemp(join(tmpdir(), 'otakit-attack-leak-insighio-'));
    closers.push(() => rm(root, { recursive: true, force: true }));
    const deviceId = 'dev-leak-1';
    const connection = await connectMqtt(broker.url, {
      ...insighioMqttOptions({ deviceId, deviceKey: KEY, clientId: `${deviceId}-c` }),
      reconnectPeriod: 50,
    });
    closers.push(() => connection.close());
    const lines: unknown[] = [];
    const logger = capturingLogger(lines);
    const agent = createInsighioAgent({
      target: { controlChannelId: CC, deviceId, baseUrl: packages.baseUrl, allowInsecureHttp: true },
      deviceKey: KEY,
      connection,
      installDirectory: join(root, 'app'),
      stateDirectory: join(root, 'agent'),
      fsync: false,
      logger,
      download: { retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 } },
      machine: { retry: { download: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 } } },
    });
    closers.push(() => agent.stop({ cancel: true }));
    const emitted: unknown[] = [];
    recordEmits(agent as never, emitted);
    const outcomes: UpdateOutcome[] = [];
    agent.on('outcome', (outcome) => outcomes.push(outcome));
    await agent.start();
    const console = await connectMqtt(broker.url, { clientId: 'console-leak', reconnectPeriod: 50 });
    closers.push(() => console.close());
    const order = async (fileId: string, size: number) => {
      const publication = orderPublication(
        { controlChannelId: CC, deviceId },
        { fileId, fileType: '.tar', size },
      );
      await console.publish(publication.topic, publication.payload, publication.options);
    };

    const body = makeTar([{ name: 'main.py', data: 'print("new")\n' }]);
    packages.put('f0000001', body);
    await order('f0000001', body.length);
    await until(
      () => outcomes.length >= 1,
      () => 'the first outcome',
    );
    expect(outcomes[0]?.state).toBe('committed');
    // A corrupt package: the order says 100 bytes more than the service sends.
    packages.put('c0000001', body);
    await order('c0000001', body.length + 100);
    await until(
      () => outcomes.length >= 2,
      () => 'the second outcome',
    );
    expect(outcomes[1]?.state).toMatch(/failed|rolled_back/);
    expect(packages.requests.some((request) => request.keyAccepted)).toBe(true);

    const haystack = [
      ...strings(lines),
      ...strings(emitted),
      ...strings(outcomes),
      ...broker.publishes.map((publish) => publish.payload),
      ...(await filesUnder(join(root, 'agent'))),
    ];
    expect(haystack.length).toBeGreaterThan(10);
    expectNoSecret(haystack, forms(KEY));
  });
});
