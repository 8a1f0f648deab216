/**
 * The negative control of the MQTT chaos suites: the proxy (test/support/mqtt-chaos-proxy.ts)
 * really does what the agent tests rely on. A plain mqtt.js client subscribed through it gets
 * the copies and re-deliveries, loses its connection where a rule says and reconnects, and is
 * refused while the upstream is down; the broker (aedes) never sees a PUBACK it did not ask for.
 * Without this, "installed exactly once" could pass against a proxy that did nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectMqtt } from '../../src/mqtt/index.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { startAedes, type TestBroker } from '../device/insighio-support.js';
import {
  type ChaosProxy,
  fired,
  isPublish,
  type Passing,
  startMqttChaosProxy,
} from '../support/mqtt-chaos-proxy.js';
import { until } from '../support/system-services.js';

const FAST_RECONNECT = { reconnectPeriod: 20, reconnect: { initialMs: 20, maxMs: 100 } };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

describe('the MQTT chaos proxy between a client and aedes', () => {
  let broker: TestBroker;
  let publisher: MqttConnection;
  let count = 0;

  beforeAll(async () => {
    broker = await startAedes();
    publisher = await connectMqtt(broker.url, { clientId: 'chaos-control-publisher', ...FAST_RECONNECT });
  });
  afterAll(async () => {
    await publisher.close();
    await broker.stop();
  });

  /** A subscriber through a new proxy: what it received and how often it came online. */
  async function subscriber(arm: (proxy: ChaosProxy, topic: string) => void = () => {}) {
    const topic = `control/${++count}`;
    const proxy = await startMqttChaosProxy(broker.port);
    cleanups.push(() => proxy.close());
    arm(proxy, topic);
    const connection = await connectMqtt(proxy.url, { clientId: `control-sub-${count}`, ...FAST_RECONNECT });
    cleanups.push(() => connection.close());
    const seen = { received: [] as string[], onlines: 1, offlines: 0, proxy, topic };
    connection.onStateChange?.((change) => {
      if (change.state === 'online') seen.onlines += 1;
      if (change.state === 'offline') seen.offlines += 1;
    });
    await connection.subscribe(
      topic,
      (message) => seen.received.push(Buffer.from(message.payload).toString()),
      {
        qos: 1,
      },
    );
    return seen;
  }

  const to = (topic: string) => (passing: Passing) => isPublish(passing) && passing.packet.topic === topic;
  const trace = (proxy: ChaosProxy) => () => proxy.trace.join('\n');

  it('duplicates a QoS 1 publish with its messageId and dup set, and keeps the extra PUBACKs from the broker', async () => {
    const seen = await subscriber((proxy, topic) => void proxy.duplicate(to(topic), { copies: 2 }));
    await publisher.publish(seen.topic, 'once', { qos: 1 });
    // One PUBACK per copy: two kept by the proxy, one for the broker.
    const acks = () => seen.proxy.counts.swallowedAcks + (seen.proxy.counts.passed.toBroker.puback ?? 0);
    await until(() => seen.received.length >= 3 && acks() >= 3, trace(seen.proxy));
    expect(seen.received).toEqual(['once', 'once', 'once']);
    expect(seen.proxy.counts).toMatchObject({ duplicated: 2, swallowedAcks: 2, cuts: 0 });
    expect(seen.proxy.counts.passed.toBroker.puback).toBe(1);
    const copies = seen.proxy.trace.filter((line) => line.includes(' dup ') && line.endsWith('(injected)'));
    const ids = new Set(copies.map((line) => /id=(\d+)/.exec(line)?.[1]));
    expect(copies).toHaveLength(2);
    expect(ids.size).toBe(1);
  });

  it('duplicates a QoS 0 publish by sending it twice', async () => {
    const seen = await subscriber((proxy, topic) => void proxy.duplicate(to(topic)));
    await publisher.publish(seen.topic, 'q0', { qos: 0 });
    await until(() => seen.received.length >= 2, trace(seen.proxy));
    expect(seen.received).toEqual(['q0', 'q0']);
    expect(seen.proxy.counts.swallowedAcks).toBe(0);
  });

  it('cuts right after a publish was delivered: the client has it, then reconnects', async () => {
    let cut: Promise<Passing> | undefined;
    const seen = await subscriber((proxy, topic) => {
      cut = proxy.cutWhen(to(topic));
    });
    await publisher.publish(seen.topic, 'then cut', { qos: 1 });
    await fired(cut!, trace(seen.proxy));
    await until(() => seen.onlines >= 2, trace(seen.proxy));
    expect(seen.received).toEqual(['then cut']);
    expect(seen.proxy.counts).toMatchObject({ cuts: 1, connections: 2 });
    // The client's PUBACK for it never reached the broker.
    expect(seen.proxy.counts.passed.toBroker.puback ?? 0).toBe(0);
  });

  it('cuts instead of delivering: the client never gets it', async () => {
    let cut: Promise<Passing> | undefined;
    const seen = await subscriber((proxy, topic) => {
      cut = proxy.cutWhen(to(topic), { when: 'before' });
    });
    await publisher.publish(seen.topic, 'lost', { qos: 1 });
    await fired(cut!, trace(seen.proxy));
    // Wait for the second SUBACK, not only the reconnect: published before the broker has the new
    // subscription, 'after' would be lost too (a clean session) on a busy machine.
    await until(() => (seen.proxy.counts.passed.toClient.suback ?? 0) >= 2, trace(seen.proxy));
    // After the reconnect (a clean session), a later message arrives; the cut one did not.
    await publisher.publish(seen.topic, 'after', { qos: 1 });
    await until(() => seen.received.length >= 1, trace(seen.proxy));
    expect(seen.received).toEqual(['after']);
  });

  it('re-delivers a publish after the next reconnect, and cuts after N packets', async () => {
    let kept: Promise<Passing> | undefined;
    const seen = await subscriber((proxy, topic) => {
      kept = proxy.redeliverAfterReconnect(to(topic));
    });
    await publisher.publish(seen.topic, 'again', { qos: 1 });
    await fired(kept!, trace(seen.proxy));
    await until(() => seen.received.length >= 1, trace(seen.proxy));
    // Two packets: the next publish and the client's PUBACK for it; then the cut.
    const cut = seen.proxy.cutAfterPackets(2);
    await publisher.publish(seen.topic, 'last', { qos: 1 });
    await fired(cut, trace(seen.proxy));
    await until(() => seen.received.length >= 3 && seen.proxy.counts.swallowedAcks >= 1, trace(seen.proxy));
    expect(seen.received).toEqual(['again', 'last', 'again']);
    expect(seen.proxy.counts).toMatchObject({ redelivered: 1, cuts: 1, connections: 2, swallowedAcks: 1 });
  });

  it('with the upstream down, refuses every attempt until it is up again', async () => {
    const seen = await subscriber();
    seen.proxy.upstreamDown();
    await until(() => seen.proxy.counts.refused >= 3, trace(seen.proxy));
    expect(seen.offlines).toBeGreaterThanOrEqual(3);
    expect(seen.onlines).toBe(1);
    seen.proxy.upstreamUp();
    // Online is not enough: 'back' published before the new SUBACK would be lost (a clean session).
    await until(
      () => seen.onlines >= 2 && (seen.proxy.counts.passed.toClient.suback ?? 0) >= 2,
      trace(seen.proxy),
    );
    await publisher.publish(seen.topic, 'back', { qos: 1 });
    await until(() => seen.received.length >= 1, trace(seen.proxy));
    expect(seen.received).toEqual(['back']);
  });
});
