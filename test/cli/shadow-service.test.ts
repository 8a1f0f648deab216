/**
 * `otakit shadow-service` as a subprocess on an aedes broker that takes only a user name and
 * password (the password passed through `--password-env`): the AWS IoT shadow round trip seen by
 * an mqtt.js client (update → accepted + delta, get → the document, a malformed update →
 * rejected with its code, a named shadow), one JSON line per request with `--log --json`, then
 * SIGINT (exit 0) and a restart on the same `--store` directory that still has the shadows, at
 * the same versions. The password is never printed.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './fixtures.js';
import { type RunningCli, startCli } from './run-cli.js';

const USER = 'shadow-svc';
const PASSWORD = 'Br0ker-pa55-9c1e';
const THING = `thing-${process.pid}`;

/** aedes on a free loopback port that refuses any client without USER/PASSWORD. */
async function startBroker() {
  const broker = await Aedes.createBroker({
    authenticate(_client, username, password, callback) {
      if (username === USER && password?.toString() === PASSWORD) return callback(null, true);
      callback(Object.assign(new Error('Not authorized'), { returnCode: 4 }) as never, false);
    },
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An mqtt.js client that records every message it receives, and waits for one on a topic. */
async function startClient(url: string) {
  const client: MqttClient = await mqtt.connectAsync(url, {
    username: USER,
    password: PASSWORD,
    clientId: `shadow-test-${process.pid}`,
    reconnectPeriod: 0,
  });
  const received: { topic: string; payload: Record<string, unknown> }[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload) => {
    // The client hears its own requests too (it subscribes to the whole shadow): not all are JSON.
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(payload.toString()) as Record<string, unknown>;
    } catch {
      parsed = { raw: payload.toString() };
    }
    received.push({ topic, payload: parsed });
    for (const waiter of [...waiters]) waiter();
  });
  const prefix = `$aws/things/${THING}/shadow`;
  await client.subscribeAsync([`${prefix}/#`], { qos: 1 });
  return {
    client,
    received,
    /** The first message on `topic` received after `from` (an index into `received`). */
    next(topic: string, from: number): Promise<Record<string, unknown>> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.slice(from).find((message) => message.topic === topic);
          if (found === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found.payload);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no message on ${topic}; got ${received.map((m) => m.topic).join(', ')}`));
        }, 30_000);
        waiters.add(check);
        check();
      });
    },
    /** Publishes `payload` (an object, or raw text) on `<prefix>/<suffix>`; returns the index to wait from. */
    async send(suffix: string, payload: unknown): Promise<number> {
      const from = received.length;
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      await client.publishAsync(`${prefix}/${suffix}`, text, { qos: 1 });
      return from;
    },
  };
}

let broker: Awaited<ReturnType<typeof startBroker>>;
let store: string;
let device: Awaited<ReturnType<typeof startClient>>;
const runs: RunningCli[] = [];

function startService(): RunningCli {
  const run = startCli(
    [
      'shadow-service',
      '--broker',
      broker.url,
      '--username',
      USER,
      '--password-env',
      'SHADOW_BROKER_PASSWORD',
      '--store',
      store,
      '--log',
      '--json',
    ],
    { env: { SHADOW_BROKER_PASSWORD: PASSWORD } },
  );
  runs.push(run);
  return run;
}

/** The stdout lines as JSON values (every line must be one). */
const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  broker = await startBroker();
  store = await tempDir('shadow-store');
  device = await startClient(broker.url);
});

afterAll(async () => {
  await Promise.allSettled(runs.map((run) => run.stop('SIGKILL')));
  await device?.client.endAsync();
  await broker?.close();
});

describe('otakit shadow-service', () => {
  let service: RunningCli;
  let version = 0;

  it('starts on the broker with the password from the environment, the store named', async () => {
    service = startService();
    const started = JSON.parse(await service.line(/"event":"started"/)) as Record<string, unknown>;
    expect(started).toEqual({ event: 'started', broker: broker.url, store });
  });

  it('update: /update/accepted with the desired state and /update/delta with the difference', async () => {
    const from = await device.send('update', {
      state: { desired: { firmware: '2.0.0', interval: 60 }, reported: { firmware: '1.0.0', interval: 60 } },
      clientToken: 'tok-1',
    });
    const accepted = await device.next(`$aws/things/${THING}/shadow/update/accepted`, from);
    expect(accepted).toMatchObject({
      state: { desired: { firmware: '2.0.0', interval: 60 }, reported: { firmware: '1.0.0', interval: 60 } },
      clientToken: 'tok-1',
    });
    expect(accepted.version).toEqual(expect.any(Number));
    version = accepted.version as number;
    const delta = await device.next(`$aws/things/${THING}/shadow/update/delta`, from);
    // Only what desired has and reported lacks (interval agrees).
    expect(delta).toMatchObject({ state: { firmware: '2.0.0' }, version });
    expect((delta.state as Record<string, unknown>).interval).toBeUndefined();
  });

  it('get: /get/accepted with the whole document, its delta and version', async () => {
    const from = await device.send('get', { clientToken: 'tok-get' });
    const document = await device.next(`$aws/things/${THING}/shadow/get/accepted`, from);
    expect(document).toMatchObject({
      state: {
        desired: { firmware: '2.0.0', interval: 60 },
        reported: { firmware: '1.0.0', interval: 60 },
        delta: { firmware: '2.0.0' },
      },
      version,
      clientToken: 'tok-get',
    });
  });

  it('a malformed update (not JSON, then no state) is rejected with an AWS error code', async () => {
    let from = await device.send('update', '{not json');
    const notJson = await device.next(`$aws/things/${THING}/shadow/update/rejected`, from);
    expect(notJson).toMatchObject({ code: 400, message: expect.any(String) });
    from = await device.send('update', { desired: { firmware: '3' }, clientToken: 'tok-bad' });
    const noState = await device.next(`$aws/things/${THING}/shadow/update/rejected`, from);
    expect(noState).toMatchObject({ code: 400, clientToken: 'tok-bad' });
    // Nothing changed: the version is the same.
    from = await device.send('get', {});
    expect(await device.next(`$aws/things/${THING}/shadow/get/accepted`, from)).toMatchObject({ version });
  });

  it('a named shadow is its own document; get of a missing one is rejected 404', async () => {
    const named = 'ota';
    let from = await device.send(`name/${named}/get`, { clientToken: 'tok-missing' });
    const missing = await device.next(`$aws/things/${THING}/shadow/name/${named}/get/rejected`, from);
    expect(missing).toMatchObject({ code: 404, clientToken: 'tok-missing' });
    from = await device.send(`name/${named}/update`, { state: { reported: { app: 'v7' } } });
    const accepted = await device.next(`$aws/things/${THING}/shadow/name/${named}/update/accepted`, from);
    expect(accepted).toMatchObject({ state: { reported: { app: 'v7' } }, version: 1 });
    from = await device.send(`name/${named}/get`, {});
    const document = await device.next(`$aws/things/${THING}/shadow/name/${named}/get/accepted`, from);
    expect(document).toMatchObject({ state: { reported: { app: 'v7' } }, version: 1 });
    expect((document.state as Record<string, unknown>).desired).toBeUndefined();
  });

  it('logs one JSON line per request (rejections with their code); SIGINT exits 0', async () => {
    const result = await service.stop('SIGINT');
    expect(result.code, result.stderr).toBe(0);
    const requests = jsonLines(result.stdout).filter((line) => line.event === 'request');
    expect(requests).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ operation: 'update', address: { thingName: THING }, origin: 'mqtt' }),
        expect.objectContaining({ operation: 'update', address: { thingName: THING }, rejected: 400 }),
        expect.objectContaining({
          operation: 'get',
          address: { thingName: THING, shadowName: 'ota' },
          rejected: 404,
        }),
      ]),
    );
    expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
  });

  it('restarted on the same --store, it answers with the shadows and versions it had', async () => {
    service = startService();
    await service.line(/"event":"started"/);
    let from = await device.send('get', { clientToken: 'tok-after' });
    const classic = await device.next(`$aws/things/${THING}/shadow/get/accepted`, from);
    expect(classic).toMatchObject({
      state: {
        desired: { firmware: '2.0.0' },
        reported: { firmware: '1.0.0' },
        delta: { firmware: '2.0.0' },
      },
      version,
    });
    from = await device.send('name/ota/get', {});
    expect(await device.next(`$aws/things/${THING}/shadow/name/ota/get/accepted`, from)).toMatchObject({
      state: { reported: { app: 'v7' } },
      version: 1,
    });
    // The next update continues the version.
    from = await device.send('update', { state: { reported: { firmware: '2.0.0' } } });
    expect(await device.next(`$aws/things/${THING}/shadow/update/accepted`, from)).toMatchObject({
      version: version + 1,
    });
    const result = await service.stop('SIGINT');
    expect(result.code, result.stderr).toBe(0);
    expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
  });
});
