/**
 * `otakit/nats` against a REAL nats-server (started by this file on loopback ports): the channel
 * publishes and subscribes, keeps what is sent during an outage in a bounded queue and publishes
 * it after the client's reconnect, and `connectNats` fails with typed errors that never carry the
 * credentials. Without nats-server the file skips locally and fails in CI.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isOtaError, OtaError, TransportError } from '../../src/index.js';
import {
  connectNats,
  MissingNatsPeerError,
  missingNatsError,
  type NatsChannel,
  natsChannel,
} from '../../src/nats/index.js';
import type { InboundMessage } from '../../src/protocols/contract.js';
import { IN_CI, until } from '../support/system-services.js';
import { NATS_MISSING, NATS_SERVER, NatsServer } from './nats-server.js';

const decoder = new TextDecoder();
const text = (message: InboundMessage) =>
  typeof message.payload === 'string' ? message.payload : decoder.decode(message.payload);

describe('missingNatsError', () => {
  it('turns "cannot find @nats-io/transport-node" into a typed CONFIG error saying what to install', () => {
    for (const code of ['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND']) {
      const cause = Object.assign(
        new Error("Cannot find package '@nats-io/transport-node' imported from x"),
        {
          code,
        },
      );
      const error = missingNatsError(cause);
      expect(error).toBeInstanceOf(MissingNatsPeerError);
      expect(isOtaError(error, 'CONFIG')).toBe(true);
      expect(error?.message).toContain('npm install @nats-io/transport-node');
      expect(error?.moduleCode).toBe(code);
      expect(error?.cause).toBe(cause);
    }
    // One of its own dependencies missing, or another error: not ours to rewrite.
    const nested = Object.assign(new Error("Cannot find package '@nats-io/nkeys'"), {
      code: 'MODULE_NOT_FOUND',
    });
    expect(missingNatsError(nested)).toBeUndefined();
    expect(missingNatsError(new Error('boom'))).toBeUndefined();
  });
});

if (!NATS_SERVER) {
  if (IN_CI) {
    describe('otakit/nats over a real nats-server', () => {
      it('has nats-server to run (CI must run the NATS tests)', () => {
        throw new Error(`${NATS_MISSING}. .ci/run apt-installs nats-server when CI is set.`);
      });
    });
  } else {
    console.warn(`test/nats/nats-channel.test.ts skipped: ${NATS_MISSING}`);
  }
}

describe.skipIf(!NATS_SERVER)('otakit/nats over a real nats-server', () => {
  let directory: string;
  let open: NatsServer;
  let secured: NatsServer;
  const user = { user: 'edge-ota', pass: randomBytes(12).toString('hex') };
  const connections = new Set<NatsConnection>();

  const connect = async (server: NatsServer, options: Parameters<typeof connectNats>[1] = {}) => {
    const connection = await connectNats(server.url, { reconnectTimeWait: 50, ...options });
    connections.add(connection);
    return connection;
  };

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'otakit-nats-channel-'));
    [open, secured] = await Promise.all([
      NatsServer.start({ directory }),
      NatsServer.start({ directory, users: [user] }),
    ]);
  });
  afterEach(async () => {
    await Promise.all([...connections].map((connection) => connection.close().catch(() => {})));
    connections.clear();
  });
  afterAll(async () => {
    await Promise.all([open?.stop(), secured?.stop()]);
    await rm(directory, { recursive: true, force: true });
  });

  it('send publishes a wire message on its subject; listen delivers what arrives until stopped', async () => {
    const device = natsChannel(await connect(open));
    const service = natsChannel(await connect(open));
    const received: InboundMessage[] = [];
    const stop = await service.listen!({ channel: 'nats', subject: 'heartbeat.*.service' }, (message) =>
      received.push(message),
    );
    expect(device.connected).toBe(true);
    await expect(
      device.send({ channel: 'nats', address: 'heartbeat.ota.service', payload: '{"status":"updated"}' }),
    ).resolves.toBeUndefined();
    await device.send({
      channel: 'nats',
      address: 'heartbeat.modbus.service',
      payload: 'modbus ok',
    });
    await until(
      () => received.length === 2,
      () => `2 messages, got ${received.length}`,
    );
    expect(received[0]).toEqual({ address: 'heartbeat.ota.service', payload: expect.any(Uint8Array) });
    expect(text(received[0]!)).toBe('{"status":"updated"}');
    expect(text(received[1]!)).toBe('modbus ok');

    await stop();
    await device.send({ channel: 'nats', address: 'heartbeat.ota.service', payload: 'after' });
    await device.send({ channel: 'nats', address: 'heartbeat.ota.service', payload: 'sentinel' });
    // A second subscriber sees the sentinel: by then the stopped one would have had both.
    const sentinel: string[] = [];
    await service.listen!({ channel: 'nats', subject: 'heartbeat.ota.service' }, (m) =>
      sentinel.push(text(m)),
    );
    await device.send({ channel: 'nats', address: 'heartbeat.ota.service', payload: 'last' });
    await until(
      () => sentinel.includes('last'),
      () => 'the last message',
    );
    expect(received).toHaveLength(2);
  });

  it('refuses messages and sources of another kind with a CONFIG error', async () => {
    const channel = natsChannel(await connect(open));
    await expect(channel.send({ channel: 'mqtt', address: 'a/b', payload: '' })).rejects.toMatchObject({
      code: 'CONFIG',
    });
    await expect(channel.listen!({ channel: 'mqtt', filter: 'a/#' }, () => {})).rejects.toBeInstanceOf(
      OtaError,
    );
    const aborted = AbortSignal.abort();
    await expect(
      channel.send({ channel: 'nats', address: 'x', payload: '' }, { signal: aborted }),
    ).rejects.toThrow();
  });

  it('a closed connection: send rejects with a TransportError that is not retryable', async () => {
    const connection = await connect(open);
    const channel = natsChannel(connection);
    await connection.close();
    const error = await channel.send({ channel: 'nats', address: 'x', payload: '' }).catch((e) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error.retryable).toBe(false);
  });

  it('server restarted: sends during the outage wait (bounded) and go out after the reconnect; subscriptions resume', async () => {
    const server = await NatsServer.start({ directory });
    try {
      const errors: TransportError[] = [];
      const connection = await connect(server);
      const device: NatsChannel = natsChannel(connection, {
        offlineQueue: 2,
        onError: (error) => errors.push(error),
      });
      // The listener shares the device's connection: on reconnecting the client sends its
      // subscriptions before anything else, so the server has it before the queued messages
      // (a second connection might reconnect after them, and NATS keeps nothing for nobody).
      const service = natsChannel(connection);
      const received: string[] = [];
      await service.listen!({ channel: 'nats', subject: 'status' }, (message) =>
        received.push(text(message)),
      );
      await device.send({ channel: 'nats', address: 'status', payload: 'before' });
      await until(
        () => received.includes('before'),
        () => 'the first message',
      );

      await server.stop();
      await until(
        () => !device.connected,
        () => 'the client to see the server gone',
      );
      for (const payload of ['one', 'two', 'three']) {
        await device.send({ channel: 'nats', address: 'status', payload });
      }
      expect(device.queued).toBe(2);

      await server.start();
      await until(
        () => received.includes('three'),
        () => `the queued messages after the reconnect, got ${JSON.stringify(received)}`,
      );
      await device.send({ channel: 'nats', address: 'status', payload: 'after' });
      await until(
        () => received.includes('after'),
        () => 'a message after the reconnect',
      );
      // The oldest queued message was dropped (queue of 2), and that was reported.
      expect(received).toEqual(['before', 'two', 'three', 'after']);
      expect(errors.map((error) => error.message)).toEqual([expect.stringContaining('dropped 1 message')]);
      expect(device.queued).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('connectNats: refused credentials are a TransportError, not retryable, without the password', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const error = await connectNats(secured.url, {
      user: user.user,
      pass: wrong,
      maxReconnectAttempts: 0,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/^NATS connection to nats:\/\/127\.0\.0\.1:\d+ failed: /);
    expect(error.message).not.toContain(wrong);
    expect(JSON.stringify(error.toJSON())).not.toContain(wrong);

    // In the URL too: the user info is masked in the message.
    const inUrl = await connectNats(`nats://${user.user}:${wrong}@127.0.0.1:${secured.port}`, {
      maxReconnectAttempts: 0,
    }).catch((e) => e);
    expect(inUrl).toBeInstanceOf(TransportError);
    expect(inUrl.message).not.toContain(wrong);

    const good = await connect(secured, { ...user });
    const channel = natsChannel(good);
    await expect(channel.send({ channel: 'nats', address: 'ok', payload: '' })).resolves.toBeUndefined();
  });

  it('connectNats: no server listening is a retryable TransportError', async () => {
    const server = await NatsServer.start({ directory });
    await server.stop();
    const error = await connectNats(server.url, { timeout: 2_000 }).catch((e) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error.retryable).toBe(true);
  });
});
