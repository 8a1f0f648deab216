/**
 * `otakit/mqtt` (the mqtt.js binding of {@link MqttConnection}) against a real MQTT 3.1.1 broker:
 * aedes, in process, on a random loopback port. Plus the pure `topicMatches` rules.
 *
 * Every test uses its own topic prefix so retained messages and wildcards cannot leak between
 * tests. Instead of sleeping to prove that something did NOT arrive, a test publishes a sentinel
 * afterwards on the same connection: MQTT keeps one publisher's QoS 1 messages in order, so once
 * the sentinel is in, anything published before it has been delivered or never will be.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectMqtt, fromMqttClient } from '../src/mqtt/index.js';
import { type MqttConnection, type MqttMessage, topicMatches } from '../src/transport/mqtt-connection.js';

const decoder = new TextDecoder();
const text = (message: MqttMessage) => decoder.decode(message.payload);

/** Topics under this prefix are refused by the broker's authorizeSubscribe (negative SUBACK). */
const FORBIDDEN_PREFIX = 'otakit/forbidden/';

let broker: Aedes;
let server: Server;
let url: string;
let clientCount = 0;
const open: MqttConnection[] = [];

beforeAll(async () => {
  broker = await Aedes.createBroker({
    authorizeSubscribe(_client, subscription, callback) {
      // A null subscription makes aedes answer with the failure return code 0x80 (128).
      callback(null, subscription.topic.startsWith(FORBIDDEN_PREFIX) ? null : subscription);
    },
  });
  server = createServer(broker.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((connection) => connection.close()));
});

afterAll(async () => {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

/** Connects a fresh client (closed after the test) with a unique client id. */
async function connect(options: { reconnectPeriod?: number } = {}): Promise<MqttConnection> {
  const connection = await connectMqtt(url, { clientId: `otakit-test-${++clientCount}`, ...options });
  open.push(connection);
  return connection;
}

/** A handler that records what it got, and a way to wait until it got enough. */
function recorder() {
  const messages: MqttMessage[] = [];
  const handler = (message: MqttMessage) => {
    messages.push(message);
  };
  // The limit only catches a message that never comes: generous, so a busy machine never trips it.
  async function until(predicate: (messages: MqttMessage[]) => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(messages)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out; got ${JSON.stringify(messages.map((m) => [m.topic, text(m)]))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  return { messages, handler, until, topics: () => messages.map((message) => message.topic) };
}

/** A port nothing listens on: bind to an ephemeral port, then release it. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('topicMatches (MQTT 3.1.1 §4.7)', () => {
  it.each([
    ['a/b/c', 'a/b/c', true],
    ['a/b/c', 'a/b', false],
    ['a/b', 'a/b/c', false],
    ['a/+/c', 'a/x/c', true],
    ['a/+/c', 'a/x/y/c', false],
    ['a/+', 'a', false],
    ['+/+', '/finance', true],
    ['a/#', 'a/b/c', true],
    ['a/#', 'a', true], // `#` also matches the parent level
    ['#', 'a/b/c', true],
    ['channels/+/messages/dev1/ota', 'channels/ctrl/messages/dev1/ota', true],
    ['channels/+/messages/dev1/ota', 'channels/ctrl/messages/dev2/ota', false],
  ])('filter %j, topic %j: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it('does not match $-topics with a leading wildcard, but does with an explicit $ level', () => {
    expect(topicMatches('#', '$SYS/broker/uptime')).toBe(false);
    expect(topicMatches('+/broker/uptime', '$SYS/broker/uptime')).toBe(false);
    expect(topicMatches('$SYS/#', '$SYS/broker/uptime')).toBe(true);
    expect(topicMatches('$aws/things/+/shadow/update', '$aws/things/gw-7/shadow/update')).toBe(true);
  });
});

describe('connectMqtt / fromMqttClient against an in-process aedes broker', () => {
  it('round-trips a string and a binary payload', async () => {
    const [publisher, subscriber] = await Promise.all([connect(), connect()]);
    const received = recorder();
    await subscriber.subscribe('otakit/rt/+', received.handler);

    await publisher.publish('otakit/rt/text', 'hello');
    await publisher.publish('otakit/rt/binary', new Uint8Array([0, 1, 254, 255]));
    await received.until((messages) => messages.length === 2);

    const [first, second] = received.messages;
    expect(first).toMatchObject({ topic: 'otakit/rt/text', retain: false });
    expect(first?.payload).toBeInstanceOf(Uint8Array);
    expect(text(first!)).toBe('hello');
    expect(second?.topic).toBe('otakit/rt/binary');
    expect([...second!.payload]).toEqual([0, 1, 254, 255]);
  });

  it('wraps an mqtt.js client the caller connected itself (fromMqttClient)', async () => {
    const client = await mqtt.connectAsync(url, {
      clientId: `otakit-test-raw-${++clientCount}`,
      reconnectPeriod: 0,
    });
    const connection = fromMqttClient(client);
    open.push(connection);
    const received = recorder();
    await connection.subscribe('otakit/raw/echo', received.handler, { qos: 0 });
    await connection.publish('otakit/raw/echo', 'to myself', { qos: 0 });
    await received.until((messages) => messages.length === 1);
    expect(text(received.messages[0]!)).toBe('to myself');
    await connection.close();
    expect(client.connected).toBe(false);
  });

  it('delivers a retained message to a later subscriber, flagged retain: true', async () => {
    const publisher = await connect();
    const topic = 'otakit/retained/channels/ctrl/messages/dev1/ota';
    await publisher.publish(topic, '{"e":[{"n":"fw","vs":"1.2.3"}]}', { retain: true });

    const late = await connect();
    const received = recorder();
    await late.subscribe('otakit/retained/channels/+/messages/dev1/ota', received.handler);
    await received.until((messages) => messages.length === 1);
    expect(received.messages[0]).toMatchObject({ topic, retain: true });
    expect(JSON.parse(text(received.messages[0]!))).toEqual({ e: [{ n: 'fw', vs: '1.2.3' }] });

    // Clearing a retained message (empty retained payload) is how insigh.io acknowledges an order.
    await publisher.publish(topic, '', { retain: true });
    const later = await connect();
    const afterClear = recorder();
    await later.subscribe('otakit/retained/#', afterClear.handler);
    await later.subscribe('otakit/retained-sentinel', afterClear.handler);
    await later.publish('otakit/retained-sentinel', 'done');
    await afterClear.until((messages) =>
      messages.some((message) => message.topic === 'otakit/retained-sentinel'),
    );
    expect(afterClear.topics()).toEqual(['otakit/retained-sentinel']);
  });

  it('dispatches by filter: `+` matches one level, `#` any depth, exact filters only themselves', async () => {
    const publisher = await connect();
    const subscriber = await connect();
    const plus = recorder();
    const hash = recorder();
    const exact = recorder();
    await subscriber.subscribe('otakit/wc/+/status', plus.handler);
    await subscriber.subscribe('otakit/wc/#', hash.handler);
    await subscriber.subscribe('otakit/wc/dev2/status', exact.handler);

    await publisher.publish('otakit/wc/dev1/status', 'a');
    await publisher.publish('otakit/wc/dev1/log/boot', 'b');
    await publisher.publish('otakit/wc/dev2/status', 'c');
    await publisher.publish('otakit/wc', 'd');
    await hash.until((messages) => messages.some((message) => text(message) === 'd'));

    // Each handler gets each matching message exactly once, even though the broker holds three
    // overlapping subscriptions of this one client.
    expect(plus.topics()).toEqual(['otakit/wc/dev1/status', 'otakit/wc/dev2/status']);
    expect(hash.topics()).toEqual([
      'otakit/wc/dev1/status',
      'otakit/wc/dev1/log/boot',
      'otakit/wc/dev2/status',
      'otakit/wc',
    ]);
    expect(exact.topics()).toEqual(['otakit/wc/dev2/status']);
  });

  it('stops delivery after unsubscribe, and keeps other handlers of the same filter', async () => {
    const publisher = await connect();
    const subscriber = await connect();
    const first = recorder();
    const second = recorder();
    const sentinel = recorder();
    const stopFirst = await subscriber.subscribe('otakit/unsub/topic', first.handler);
    const stopSecond = await subscriber.subscribe('otakit/unsub/topic', second.handler);
    await subscriber.subscribe('otakit/unsub/sentinel', sentinel.handler);

    await publisher.publish('otakit/unsub/topic', '1');
    await second.until((messages) => messages.length === 1);
    await first.until((messages) => messages.length === 1);

    await stopFirst();
    await publisher.publish('otakit/unsub/topic', '2');
    await second.until((messages) => messages.length === 2);
    expect(first.messages.map(text)).toEqual(['1']);

    // The last handler gone, the broker subscription goes too.
    await stopSecond();
    await publisher.publish('otakit/unsub/topic', '3');
    await publisher.publish('otakit/unsub/sentinel', 'end');
    await sentinel.until((messages) => messages.length === 1);
    expect(first.messages.map(text)).toEqual(['1']);
    expect(second.messages.map(text)).toEqual(['1', '2']);
  });

  it('does not hand $-topics to a `#` handler of the same client', async () => {
    const subscriber = await connect();
    const all = recorder();
    const sys = recorder();
    await subscriber.subscribe('#', all.handler);
    await subscriber.subscribe('$SYS/otakit-test/#', sys.handler);

    // Clients may not publish to $SYS, so the broker publishes it itself.
    await new Promise<void>((resolve, reject) =>
      broker.publish(
        {
          cmd: 'publish',
          topic: '$SYS/otakit-test/ping',
          payload: Buffer.from('sys'),
          qos: 0,
          retain: false,
          dup: false,
        },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    await sys.until((messages) => messages.length === 1);
    const publisher = await connect();
    await publisher.publish('otakit/dollar/sentinel', 'end');
    await all.until((messages) => messages.some((message) => message.topic === 'otakit/dollar/sentinel'));

    expect(sys.topics()).toEqual(['$SYS/otakit-test/ping']);
    expect(all.topics().filter((topic) => topic.startsWith('$'))).toEqual([]);
  });

  it('rejects a subscription the broker refuses, with code TRANSPORT', async () => {
    const connection = await connect();
    await expect(connection.subscribe(`${FORBIDDEN_PREFIX}x`, () => {})).rejects.toMatchObject({
      code: 'TRANSPORT',
    });
  });

  it.each([
    ['default options', {}],
    // mqtt.js alone never settles these calls on an ended client with reconnectPeriod 0.
    ['reconnectPeriod 0', { reconnectPeriod: 0 }],
  ])(
    'rejects publish and subscribe on a closed connection with code TRANSPORT; close twice is fine (%s)',
    async (_name, options) => {
      const connection = await connect(options);
      await connection.close();
      await expect(connection.publish('otakit/closed', 'x')).rejects.toMatchObject({ code: 'TRANSPORT' });
      await expect(connection.subscribe('otakit/closed', () => {})).rejects.toMatchObject({
        code: 'TRANSPORT',
      });
      await expect(connection.close()).resolves.toBeUndefined();
    },
  );

  it('reports `closed` to state listeners; a throwing listener is ignored, a removed one not called', async () => {
    const connection = await connect();
    const seen: string[] = [];
    const removed: string[] = [];
    connection.onStateChange?.(() => {
      throw new Error('a listener bug');
    });
    connection.onStateChange?.((change) => seen.push(change.state));
    const remove = connection.onStateChange?.((change) => removed.push(change.state));
    remove?.();
    await connection.close();
    expect(seen).toEqual(['closed']);
    expect(removed).toEqual([]);
  });

  it('rejects connecting to a closed port with code TRANSPORT, without leaking credentials', async () => {
    const port = await closedPort();
    const attempt = connectMqtt(`mqtt://device:s3cret-pass@127.0.0.1:${port}`, { connectTimeout: 2_000 });
    // Guard: if mqtt.js kept retrying instead of rejecting, fail with a clear message, not a hang.
    const guard = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error('connectMqtt neither resolved nor rejected within 15 s')),
        15_000,
      ).unref(),
    );
    const error = await Promise.race([attempt, guard]).then(
      (connection) => {
        open.push(connection);
        throw new Error('connectMqtt resolved against a closed port');
      },
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ name: 'TransportError', code: 'TRANSPORT', retryable: true });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect((error as Error).message).not.toContain('s3cret-pass');
    expect((error as Error).cause).toBeDefined();
  });
});
