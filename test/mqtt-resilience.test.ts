/**
 * `otakit/mqtt` hardening, end to end against a real mosquitto (MQTT 5 and MQTT 3.1.1): the
 * reconnection backoff, the bounded offline queue, subscriptions renewed after a broker restart
 * (clean and persistent sessions), subscribing and unsubscribing while offline, a broker that
 * refuses the device for good on reconnect, and TLS / mTLS with the certificates of
 * test/fixtures/tls. Plus the pure backoff schedule and option checks.
 *
 * A network outage with the broker still up is a loopback TCP proxy in front of mosquitto that
 * this file takes down (stops listening, cuts every connection) and brings back on the same port.
 * As in the other MQTT tests, nothing is timed: a test waits for what it expects, and the limits
 * only catch hangs.
 *
 * mosquitto comes from the system (`apt-get install mosquitto`; .ci/run installs it in CI). Without
 * it the broker tests skip locally and fail in CI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reconnectDelay, reconnectSchedule } from '../src/mqtt/backoff.js';
import { type ConnectMqttOptions, connectMqtt, fromMqttClient } from '../src/mqtt/index.js';
import type { MqttConnection, MqttConnectionState, MqttMessage } from '../src/transport/mqtt-connection.js';
import { findSystemBinary, freePorts, IN_CI, sleep, until } from './support/system-services.js';

const MOSQUITTO = findSystemBinary('mosquitto', 'MOSQUITTO_PATH');
const MISSING =
  'no mosquitto on PATH or in /usr/sbin (install it with `apt-get install mosquitto`, or set MOSQUITTO_PATH)';

const TLS_DIRECTORY = join(import.meta.dirname, 'fixtures', 'tls');
/** Self-signed for 127.0.0.1: the broker's certificate, the CA that trusts it, and (mTLS) the client's. */
const CERT_FILE = join(TLS_DIRECTORY, 'cert.pem');
const KEY_FILE = join(TLS_DIRECTORY, 'key.pem');
const CERT = readFileSync(CERT_FILE);
const KEY = readFileSync(KEY_FILE);

const PROTOCOLS = [
  { name: 'MQTT 5', protocolVersion: 5, prefix: 'otakit/res/v5' },
  { name: 'MQTT 3.1.1', protocolVersion: 4, prefix: 'otakit/res/v311' },
] as const;

const USER = 'device-7';
const PASSWORD = `pw-${randomUUID()}`;

const decoder = new TextDecoder();
const text = (message: MqttMessage) => decoder.decode(message.payload);

/** Only catches a call that never settles; never a slow one. */
const HANG_MS = 15_000;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not settle within ${HANG_MS} ms`)), HANG_MS);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Watches a promise without awaiting it (and without leaving its rejection unhandled). */
function watch(promise: Promise<unknown>) {
  const state: { settled: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { settled: 'pending' };
  promise.then(
    () => {
      state.settled = 'resolved';
    },
    (error: unknown) => {
      state.settled = 'rejected';
      state.error = error;
    },
  );
  return state;
}

function recorder() {
  const messages: MqttMessage[] = [];
  return {
    messages,
    handler: (message: MqttMessage) => {
      messages.push(message);
    },
    until: (predicate: (messages: MqttMessage[]) => boolean) =>
      until(
        () => predicate(messages),
        () => `messages; got ${JSON.stringify(messages.map((m) => [m.topic, text(m)]))}`,
      ),
    texts: () => messages.map(text),
  };
}

/** Every state change of a connection, and a way to wait for one. */
function states(connection: MqttConnection) {
  const changes: MqttConnectionState[] = [];
  connection.onStateChange?.((change) => changes.push(change));
  return {
    changes,
    until: (predicate: (changes: MqttConnectionState[]) => boolean, what: string) =>
      until(
        () => predicate(changes),
        () => `${what}; got ${JSON.stringify(changes)}`,
      ),
  };
}

// ---------------------------------------------------------------------------------------------
// The pure schedule (no broker)
// ---------------------------------------------------------------------------------------------

describe('reconnection backoff schedule', () => {
  const schedule = reconnectSchedule({ initialMs: 100, maxMs: 1_000 });

  it('doubles from initialMs up to maxMs; each delay is drawn in the upper half of its ceiling', () => {
    const ceilings = [100, 200, 400, 800, 1_000, 1_000, 1_000];
    ceilings.forEach((ceiling, attempt) => {
      expect(reconnectDelay(attempt, schedule, () => 0)).toBe(ceiling / 2);
      expect(reconnectDelay(attempt, schedule, () => 0.999_999)).toBe(ceiling);
      const drawn = reconnectDelay(attempt, schedule, Math.random);
      expect(drawn).toBeGreaterThanOrEqual(ceiling / 2);
      expect(drawn).toBeLessThanOrEqual(ceiling);
    });
  });

  it('never overflows nor reaches 0, however long the outage', () => {
    expect(reconnectDelay(10_000, schedule, () => 1)).toBe(1_000);
    expect(reconnectDelay(0, reconnectSchedule({ initialMs: 1, maxMs: 1 }), () => 0)).toBe(1);
  });

  it('defaults to 1 s up to 30 s, and starts from the client reconnectPeriod when given', () => {
    expect(reconnectSchedule(undefined)).toEqual({ initialMs: 1_000, maxMs: 30_000 });
    expect(reconnectSchedule({}, 200)).toEqual({ initialMs: 200, maxMs: 30_000 });
    expect(reconnectSchedule({ initialMs: 60_000 })).toEqual({ initialMs: 60_000, maxMs: 60_000 });
  });

  it.each([
    [{ initialMs: 0 }, /reconnect\.initialMs/],
    [{ initialMs: 1.5 }, /reconnect\.initialMs/],
    [{ maxMs: -1 }, /reconnect\.maxMs/],
    [{ initialMs: 500, maxMs: 100 }, /reconnect\.maxMs must not be below reconnect\.initialMs/],
  ])('refuses %j with a CONFIG error naming the field', (options, message) => {
    expect(() => reconnectSchedule(options)).toThrow(
      expect.objectContaining({ code: 'CONFIG', message: expect.stringMatching(message) }),
    );
  });

  it('connectMqtt refuses bad options before connecting, naming the field and no credential', async () => {
    // Port 1 on loopback: were it to connect, it would fail with ECONNREFUSED instead.
    const url = `mqtt://${USER}:${PASSWORD}@127.0.0.1:1`;
    for (const [options, field] of [
      [{ maxQueuedPublishes: -1 }, 'maxQueuedPublishes'],
      [{ maxQueuedPublishes: Number.NaN }, 'maxQueuedPublishes'],
      [{ reconnect: { initialMs: 0 } }, 'reconnect.initialMs'],
    ] as [ConnectMqttOptions, string][]) {
      const error = await connectMqtt(url, { ...options, password: PASSWORD }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({ name: 'OtaError', code: 'CONFIG', retryable: false });
      expect((error as Error).message).toContain(field);
      expect(inspect(error, { depth: 5 })).not.toContain(PASSWORD);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The broker, and a proxy that plays the network
// ---------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
let tempRoot: string | undefined;

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A mosquitto password file line, `$6$`: base64 salt, base64 SHA-512 of password then salt. */
function passwordLine(user: string, password: string): string {
  const salt = randomBytes(12);
  const hash = createHash('sha512').update(password).update(salt).digest('base64');
  return `${user}:$6$${salt.toString('base64')}$${hash}\n`;
}

interface Ports {
  plain: number;
  tls: number;
  mtls: number;
  auth: number;
}

class Mosquitto {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly directory: string,
    readonly ports: Ports,
  ) {}

  get passwordFile(): string {
    return join(this.directory, 'passwd');
  }

  url(listener: 'plain' | 'auth' = 'plain'): string {
    return `mqtt://127.0.0.1:${this.ports[listener]}`;
  }

  log(): string {
    return this.output;
  }

  async waitForLog(pattern: RegExp): Promise<void> {
    await until(
      () => pattern.test(this.output),
      () => `${pattern} in the mosquitto log:\n${this.output.slice(-3_000)}`,
    );
  }

  async start(): Promise<void> {
    const config = join(this.directory, 'mosquitto.conf');
    await writeFile(
      config,
      [
        'per_listener_settings true',
        'persistence false',
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        'log_dest stderr',
        'log_type all',
        'log_timestamp false',
        `listener ${this.ports.plain} 127.0.0.1`,
        'allow_anonymous true',
        `listener ${this.ports.tls} 127.0.0.1`,
        'allow_anonymous true',
        `certfile ${CERT_FILE}`,
        `keyfile ${KEY_FILE}`,
        `listener ${this.ports.mtls} 127.0.0.1`,
        'allow_anonymous true',
        `certfile ${CERT_FILE}`,
        `keyfile ${KEY_FILE}`,
        `cafile ${CERT_FILE}`,
        'require_certificate true',
        `listener ${this.ports.auth} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${this.passwordFile}`,
        '',
      ].join('\n'),
    );
    const child = spawn(MOSQUITTO!, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    children.add(child);
    child.once('exit', () => children.delete(child));
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        this.output += chunk;
      });
    }
    const deadline = Date.now() + 2 * HANG_MS;
    for (const port of Object.values(this.ports)) {
      while (!(await accepts(port))) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
          throw new Error(`mosquitto did not accept connections on ${port}:\n${this.output}`);
        }
        await sleep(10);
      }
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    this.output += '--- restart ---\n';
    await this.start();
  }
}

async function startBroker(): Promise<Mosquitto> {
  const directory = await mkdtemp(join(tempRoot!, 'broker-'));
  await writeFile(join(directory, 'passwd'), passwordLine(USER, PASSWORD), { mode: 0o600 });
  for (let attempt = 1; ; attempt++) {
    const [plain, tls, mtls, auth] = (await freePorts(4)) as [number, number, number, number];
    const broker = new Mosquitto(directory, { plain, tls, mtls, auth });
    try {
      await broker.start();
      return broker;
    } catch (error) {
      await broker.kill();
      if (attempt === 3 || !/in use/i.test(broker.log())) throw error;
    }
  }
}

/** A TCP proxy to `target` on its own port: `down()` is a network outage, `up()` its end. */
class NetworkProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = netConnect({ port: this.target, host: '127.0.0.1' });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
  }

  /** Stops accepting and cuts every connection (a reset, no DISCONNECT): the broker stays up. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined;
    for (const socket of this.sockets) socket.resetAndDestroy();
    await closed;
  }
}

// ---------------------------------------------------------------------------------------------
// Against mosquitto
// ---------------------------------------------------------------------------------------------

if (!MOSQUITTO) {
  if (IN_CI) {
    describe('otakit/mqtt resilience against a real mosquitto', () => {
      it('has mosquitto to run (CI must run the MQTT broker tests)', () => {
        throw new Error(`${MISSING}. .ci/run apt-installs mosquitto when CI is set: see its warnings.`);
      });
    });
  } else {
    console.warn(`test/mqtt-resilience.test.ts: broker tests skipped: ${MISSING}`);
  }
}

describe.skipIf(!MOSQUITTO)(
  `otakit/mqtt resilience against a real mosquitto${MOSQUITTO ? '' : ` (skipped: ${MISSING})`}`,
  () => {
    let broker: Mosquitto;
    let clientCount = 0;
    const open: MqttConnection[] = [];
    const proxies: NetworkProxy[] = [];

    beforeAll(async () => {
      tempRoot = await mkdtemp(join(tmpdir(), 'otakit-mqtt-resilience-'));
      broker = await startBroker();
    });

    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((connection) => within(connection.close(), 'close()')));
      await Promise.allSettled(proxies.splice(0).map((proxy) => proxy.down()));
    });

    afterAll(async () => {
      await Promise.all(
        [...children].map(async (child) => {
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          await exited;
        }),
      );
      if (tempRoot) await rm(tempRoot, { recursive: true, force: true });
    });

    async function proxyTo(port: number): Promise<NetworkProxy> {
      const [own] = (await freePorts(1)) as [number];
      const proxy = new NetworkProxy(own, port);
      proxies.push(proxy);
      await proxy.up();
      return proxy;
    }

    describe.each(PROTOCOLS)('$name', ({ protocolVersion, prefix }) => {
      async function connect(url: string, options: ConnectMqttOptions = {}) {
        const clientId = `otakit-res-${++clientCount}`;
        const connection = await connectMqtt(url, { clientId, protocolVersion, ...options });
        open.push(connection);
        return { connection, clientId };
      }

      it('backs off exponentially with jitter while the network is down, and starts over once back', async () => {
        const proxy = await proxyTo(broker.ports.plain);
        const { connection } = await connect(proxy.url, { reconnect: { initialMs: 20, maxMs: 160 } });
        const seen = states(connection);

        await proxy.down();
        const offline = () => seen.changes.filter((change) => change.state === 'offline');
        await seen.until(
          (changes) => changes.filter((c) => c.state === 'offline').length >= 7,
          'seven offline changes',
        );
        await proxy.up();
        await seen.until((changes) => changes.at(-1)?.state === 'online', 'online again');

        // One change when the connection drops (0 failed attempts), then one per refused attempt.
        const ceilings = [20, 40, 80, 160, 160, 160, 160];
        offline()
          .slice(0, ceilings.length)
          .forEach((change, index) => {
            if (change.state !== 'offline') throw new Error('unreachable');
            expect(change.failedAttempts).toBe(index);
            expect(change.retryInMs).toBeGreaterThanOrEqual(ceilings[index]! / 2);
            expect(change.retryInMs).toBeLessThanOrEqual(ceilings[index]!);
            // The cause of each failed attempt, typed, once there was an attempt.
            if (index > 0) expect(change.error).toMatchObject({ code: 'TRANSPORT', message: /ECONNREFUSED/ });
          });

        // The next outage starts from initialMs again.
        const before = offline().length;
        await proxy.down();
        await seen.until(
          (changes) => changes.filter((c) => c.state === 'offline').length > before,
          'offline again',
        );
        const restart = offline()[before];
        expect(restart).toMatchObject({ state: 'offline', failedAttempts: 0 });
        expect(restart?.state === 'offline' && restart.retryInMs).toBeLessThanOrEqual(20);
        await proxy.up();
        await seen.until((changes) => changes.at(-1)?.state === 'online', 'online after the second outage');
      });

      it('holds up to maxQueuedPublishes while offline, refuses one more (retryable), then delivers them', async () => {
        const { connection: watcher } = await connect(broker.url());
        const received = recorder();
        await watcher.subscribe(`${prefix}/queue/#`, received.handler);

        const proxy = await proxyTo(broker.ports.plain);
        const { connection } = await connect(proxy.url, {
          maxQueuedPublishes: 3,
          reconnect: { initialMs: 20, maxMs: 50 },
        });
        const seen = states(connection);
        await proxy.down();
        await seen.until((changes) => changes.some((c) => c.state === 'offline'), 'offline');

        const held = [
          watch(connection.publish(`${prefix}/queue/1`, 'one', { qos: 1 })),
          watch(connection.publish(`${prefix}/queue/2`, 'two', { qos: 0 })),
          watch(connection.publish(`${prefix}/queue/3`, 'three', { qos: 1 })),
        ];
        const refused = await connection
          .publish(`${prefix}/queue/4`, 'four')
          .catch((caught: unknown) => caught);
        expect(refused).toMatchObject({ name: 'TransportError', code: 'TRANSPORT', retryable: true });
        expect((refused as Error).message).toMatch(
          /unreachable.*3 publishes already wait.*maxQueuedPublishes 3/,
        );
        expect(held.map((h) => h.settled)).toEqual(['pending', 'pending', 'pending']);

        await proxy.up();
        await until(
          () => held.every((h) => h.settled !== 'pending'),
          () => `the held publishes to settle: ${JSON.stringify(held)}`,
        );
        expect(held.map((h) => h.settled)).toEqual(['resolved', 'resolved', 'resolved']);
        // Room again: online publishes are not counted against the bound.
        await connection.publish(`${prefix}/queue/5`, 'five');
        await received.until((messages) => messages.length === 4);
        // QoS 1 messages keep their order across the outage (MQTT 4.6); mqtt.js sends the held
        // QoS 0 one from another queue, so its place among them is not guaranteed.
        expect(received.texts().filter((t) => t !== 'two')).toEqual(['one', 'three', 'five']);
        expect(received.texts()).toContain('two');
      });

      it('with maxQueuedPublishes 0, refuses every publish made while offline', async () => {
        const proxy = await proxyTo(broker.ports.plain);
        const { connection } = await connect(proxy.url, {
          maxQueuedPublishes: 0,
          reconnect: { initialMs: 20, maxMs: 50 },
        });
        const seen = states(connection);
        await proxy.down();
        await seen.until((changes) => changes.some((c) => c.state === 'offline'), 'offline');
        await expect(connection.publish(`${prefix}/none`, 'x')).rejects.toMatchObject({
          code: 'TRANSPORT',
          retryable: true,
        });
        await proxy.up();
        await seen.until((changes) => changes.at(-1)?.state === 'online', 'online');
        await expect(connection.publish(`${prefix}/none`, 'x')).resolves.toBeUndefined();
      });

      it('a subscribe made offline waits and takes effect; an unsubscribe made offline resolves and holds', async () => {
        const proxy = await proxyTo(broker.ports.plain);
        const { connection, clientId } = await connect(proxy.url, {
          reconnect: { initialMs: 20, maxMs: 50 },
        });
        const { connection: publisher } = await connect(broker.url());
        const seen = states(connection);
        const dropped = recorder();
        const stopDropped = await connection.subscribe(`${prefix}/dropped`, dropped.handler);

        await proxy.down();
        await seen.until((changes) => changes.some((c) => c.state === 'offline'), 'offline');
        const late = recorder();
        const subscribing = watch(connection.subscribe(`${prefix}/late`, late.handler));
        await within(stopDropped(), 'unsubscribe while offline');
        await sleep(100);
        expect(subscribing.settled).toBe('pending');

        await proxy.up();
        await until(
          () => subscribing.settled !== 'pending',
          () => 'the offline subscribe to settle',
        );
        expect(subscribing.settled).toBe('resolved');
        // The broker dropped the subscription once the client was back.
        await broker.waitForLog(new RegExp(`Received UNSUBSCRIBE from ${clientId}`));
        await publisher.publish(`${prefix}/dropped`, 'not for the removed handler');
        await publisher.publish(`${prefix}/late`, 'for the late one');
        await late.until((messages) => messages.length === 1);
        expect(dropped.messages).toEqual([]);
      });

      it('resumes a persistent session (clean: false): no resubscribe needed, messages sent meanwhile arrive', async () => {
        const proxy = await proxyTo(broker.ports.plain);
        const { connection } = await connect(proxy.url, {
          clean: false,
          reconnect: { initialMs: 20, maxMs: 50 },
          // MQTT 5 ends a session at disconnection unless told to keep it.
          ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}),
        });
        const { connection: publisher } = await connect(broker.url());
        const seen = states(connection);
        const received = recorder();
        await connection.subscribe(`${prefix}/session`, received.handler, { qos: 1 });

        await proxy.down();
        await seen.until((changes) => changes.some((c) => c.state === 'offline'), 'offline');
        await publisher.publish(`${prefix}/session`, 'while you were away', { qos: 1 });
        await proxy.up();
        await seen.until((changes) => changes.at(-1)?.state === 'online', 'online');
        expect(seen.changes.at(-1)).toEqual({ state: 'online', sessionPresent: true });
        await received.until((messages) => messages.length === 1);
        expect(received.texts()).toEqual(['while you were away']);
      });

      it.each([
        ['clean session', true],
        ['persistent session lost with the broker', false],
      ])('renews subscriptions after a broker restart (%s)', async (_name, clean) => {
        const own = await startBroker();
        try {
          const { connection } = await connect(own.url(), {
            clean,
            reconnect: { initialMs: 20, maxMs: 100 },
            ...(protocolVersion === 5 && !clean ? { properties: { sessionExpiryInterval: 300 } } : {}),
          });
          const seen = states(connection);
          const received = recorder();
          await connection.subscribe(`${prefix}/renewed/+`, received.handler);

          await own.restart();
          await seen.until((changes) => changes.at(-1)?.state === 'online', 'online after the restart');
          expect(seen.changes.at(-1)).toEqual({ state: 'online', sessionPresent: false });
          const { connection: publisher } = await connect(own.url());
          // The SUBSCRIBE mqtt.js renews goes out right after the CONNACK: publish until it is in.
          const deadline = Date.now() + HANG_MS;
          while (received.messages.length === 0) {
            if (Date.now() > deadline) throw new Error('the subscription was not renewed');
            await publisher.publish(`${prefix}/renewed/x`, 'after');
            await sleep(20);
          }
          expect(received.messages[0]?.topic).toBe(`${prefix}/renewed/x`);
        } finally {
          await Promise.allSettled(open.splice(0).map((connection) => within(connection.close(), 'close()')));
          await own.kill();
        }
      });

      it('ends the connection when the broker refuses the device for good on reconnect; waiting calls reject, not retryable', async () => {
        const own = await startBroker();
        try {
          const { connection } = await connect(own.url('auth'), {
            username: USER,
            password: PASSWORD,
            reconnect: { initialMs: 20, maxMs: 100 },
          });
          const seen = states(connection);
          // The device is revoked: the broker comes back without its password line.
          await own.kill();
          await writeFile(own.passwordFile, passwordLine('someone-else', randomUUID()));
          await seen.until((changes) => changes.some((c) => c.state === 'offline'), 'offline');
          const waiting = watch(connection.publish(`${prefix}/revoked`, 'x'));
          await own.start();

          await seen.until((changes) => changes.at(-1)?.state === 'closed', 'closed');
          const closed = seen.changes.at(-1);
          expect(closed).toMatchObject({
            state: 'closed',
            error: { name: 'TransportError', code: 'TRANSPORT', retryable: false },
          });
          await until(
            () => waiting.settled !== 'pending',
            () => 'the waiting publish to reject',
          );
          expect(waiting.error).toMatchObject({ code: 'TRANSPORT', retryable: false });
          expect((waiting.error as Error).message).toMatch(
            /refused the connection: Connection refused: Not authori[sz]ed/i,
          );
          await expect(connection.publish(`${prefix}/revoked`, 'y')).rejects.toMatchObject({
            retryable: false,
          });
          for (const value of [closed, waiting.error]) {
            expect(inspect(value, { depth: 6 })).not.toContain(PASSWORD);
          }
          // No retry loop hammers the broker with the refused credentials. mosquitto may write
          // its log line for the refusal after the client has seen it: wait for that line first.
          const logged = () => own.log().match(/not authori[sz]ed/g)?.length ?? 0;
          await until(
            () => logged() > 0,
            () => 'mosquitto to log the refusal',
          );
          const refusals = logged();
          await sleep(300);
          expect(logged()).toBe(refusals);
        } finally {
          await Promise.allSettled(open.splice(0).map((connection) => within(connection.close(), 'close()')));
          await own.kill();
        }
      });

      describe('TLS', () => {
        const tlsUrl = () => `mqtts://127.0.0.1:${broker.ports.tls}`;
        const mtlsUrl = () => `mqtts://127.0.0.1:${broker.ports.mtls}`;

        it('round-trips over TLS with the broker CA given as `ca`', async () => {
          const { connection } = await connect(tlsUrl(), { ca: CERT });
          const received = recorder();
          await connection.subscribe(`${prefix}/tls`, received.handler);
          await connection.publish(`${prefix}/tls`, 'over TLS');
          await received.until((messages) => messages.length === 1);
          expect(received.texts()).toEqual(['over TLS']);
        });

        it.each([
          ['no ca (the system CAs do not know it)', {}],
          ['a wrong ca', { ca: rootCertificates[0]! }],
        ])(
          'refuses an untrusted broker certificate with %s: TRANSPORT, not retryable',
          async (_name, tls) => {
            const error = await within(
              connectMqtt(tlsUrl(), { clientId: `otakit-res-${++clientCount}`, protocolVersion, ...tls }),
              'connectMqtt',
            ).then(
              (connection) => {
                open.push(connection);
                throw new Error('connected to an untrusted broker');
              },
              (caught: unknown) => caught,
            );
            expect(error).toMatchObject({ name: 'TransportError', code: 'TRANSPORT', retryable: false });
            expect((error as Error).message).toMatch(
              /^MQTT connect failed: self[- ]signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/,
            );
          },
        );

        it('connects with a client certificate (mTLS) and round-trips', async () => {
          const { connection, clientId } = await connect(mtlsUrl(), { ca: CERT, cert: CERT, key: KEY });
          const received = recorder();
          await connection.subscribe(`${prefix}/mtls`, received.handler);
          await connection.publish(`${prefix}/mtls`, 'mutual');
          await received.until((messages) => messages.length === 1);
          await broker.waitForLog(
            new RegExp(`New client connected from 127\\.0\\.0\\.1:\\d+ as ${clientId}`),
          );
        });

        it('without the client certificate the broker requires: TRANSPORT, not retryable, no key in sight', async () => {
          const error = await within(
            connectMqtt(mtlsUrl(), { clientId: `otakit-res-${++clientCount}`, protocolVersion, ca: CERT }),
            'connectMqtt',
          ).then(
            (connection) => {
              open.push(connection);
              throw new Error('connected without a client certificate');
            },
            (caught: unknown) => caught,
          );
          expect(error).toMatchObject({ name: 'TransportError', code: 'TRANSPORT', retryable: false });
          expect((error as Error).message).toMatch(/certificate required/i);
          const keyBody = KEY.toString().split('\n')[1]!;
          expect(inspect(error, { depth: 6 })).not.toContain(keyBody);
        });
      });
    });

    it('fromMqttClient keeps a fixed period without `reconnect`, and applies the backoff with it', async () => {
      const mqtt = (await import('mqtt')).default;
      const proxy = await proxyTo(broker.ports.plain);
      const fixed = fromMqttClient(await mqtt.connectAsync(proxy.url, { reconnectPeriod: 30 }));
      const backoff = fromMqttClient(await mqtt.connectAsync(proxy.url, { reconnectPeriod: 30 }), {
        reconnect: { maxMs: 240 },
      });
      open.push(fixed, backoff);
      const [fixedStates, backoffStates] = [states(fixed), states(backoff)];
      await proxy.down();
      const retries = (changes: MqttConnectionState[]) =>
        changes.flatMap((change) => (change.state === 'offline' ? [change.retryInMs] : []));
      await fixedStates.until((changes) => retries(changes).length >= 5, 'five offline changes');
      await backoffStates.until((changes) => retries(changes).length >= 5, 'five offline changes');
      expect(retries(fixedStates.changes).slice(0, 5)).toEqual([30, 30, 30, 30, 30]);
      // Ceilings 30, 60, 120, 240, 240: each delay in the upper half of its own.
      const drawn = retries(backoffStates.changes).slice(0, 5);
      [30, 60, 120, 240, 240].forEach((ceiling, index) => {
        expect(drawn[index]).toBeGreaterThanOrEqual(ceiling / 2);
        expect(drawn[index]).toBeLessThanOrEqual(ceiling);
      });
    });
  },
);
