/**
 * `watchConnhexFleet` without a broker: one subscription for every edge, the device taken from
 * the subject, heartbeats of one device ingested in arrival order, devices the service does not
 * know reported, and a subject that cannot name a device refused.
 */
import { describe, expect, it } from 'vitest';
import { watchConnhexFleet } from '../../src/cloud/connhex-fleet-watch.js';
import { createUpdatePublisher } from '../../src/cloud/publisher.js';
import { connhex, type OtaError } from '../../src/index.js';
import type { Channel, InboundMessage, WireSource } from '../../src/transport/channel.js';
import { until } from '../support/system-services.js';

/** A channel that records subscriptions and lets the test deliver messages. */
function fakeNats() {
  const subscriptions: { source: WireSource; onMessage: (message: InboundMessage) => void }[] = [];
  const channel: Channel = {
    kind: 'nats',
    send: async () => undefined,
    async listen(source, onMessage) {
      const entry = { source, onMessage };
      subscriptions.push(entry);
      return async () => void subscriptions.splice(subscriptions.indexOf(entry), 1);
    },
  };
  const deliver = (subject: string, status: connhex.OtaStatus) => {
    for (const { onMessage } of subscriptions) {
      onMessage({
        address: subject,
        payload: connhex.encodeStatusMessage({ current_version: '1.0.0', latest_version: '1.1.0', status }),
      });
    }
  };
  return { channel, subscriptions, deliver };
}

/** Waits until the publisher took `count` statuses (its `status` events) and the watch reported `errors`. */
function took(publisher: { on(event: 'status', listener: () => void): unknown }, count: number) {
  let seen = 0;
  publisher.on('status', () => {
    seen += 1;
  });
  return (errors = 0, reported: unknown[] = []) =>
    until(
      () => seen >= count && reported.length >= errors,
      () => `${count} statuses, ${seen} so far`,
    );
}

describe('watchConnhexFleet', () => {
  it('one subscription for the fleet; the * token is the device; each device in its own order', async () => {
    const nats = fakeNats();
    const publisher = createUpdatePublisher({ protocol: connhex.protocol, channels: { nats: nats.channel } });
    const settled = took(publisher, 12);
    const stop = await watchConnhexFleet(publisher, {
      nats: nats.channel,
      subject: 'edges.*.heartbeat.ota.service',
      target: { domain: 'example.com' },
    });
    expect(nats.subscriptions.map((entry) => entry.source)).toEqual([
      { channel: 'nats', subject: 'edges.*.heartbeat.ota.service' },
    ]);
    // Delivered back to back, without waiting: ingestion must keep each device's order.
    for (const status of [
      'checking',
      'update_available',
      'downloading',
      'update_ready',
      'updating',
      'updated',
    ] as const) {
      nats.deliver('edges.edge-a.heartbeat.ota.service', status);
      nats.deliver('edges.edge-b.heartbeat.ota.service', status === 'updating' ? 'update_ready' : status);
    }
    await settled();
    expect((await publisher.fleet.device('edge-a'))?.state).toBe('committed');
    expect((await publisher.fleet.history('edge-a')).map((entry) => entry.to)).toEqual([
      'checking',
      'available',
      'downloading',
      'downloaded',
      'installing',
      'committed',
    ]);
    expect((await publisher.fleet.device('edge-b'))?.state).toBe('committed');
    expect(await publisher.fleet.anomalies()).toEqual([]);
    await stop();
    expect(nats.subscriptions).toEqual([]);
  });

  it('a target function: an unknown device is reported through onError, the others go on', async () => {
    const nats = fakeNats();
    const publisher = createUpdatePublisher({ protocol: connhex.protocol, channels: { nats: nats.channel } });
    const errors: OtaError[] = [];
    const settled = took(publisher, 1);
    await watchConnhexFleet(publisher, {
      nats: nats.channel,
      subject: 'site.*.ota',
      target: (initId, subject) =>
        initId === 'known'
          ? { baseUrl: 'https://ota.example.com', initId, statusSubject: subject }
          : undefined,
      onError: (error) => errors.push(error),
    });
    nats.deliver('site.stranger.ota', 'checking');
    nats.deliver('site.known.ota', 'checking');
    await settled(1, errors);
    expect(errors.map((error) => error.code)).toEqual(['CONFIG']);
    expect(errors[0]?.message).toMatch(/no target for device "stranger"/);
    expect((await publisher.fleet.device('known'))?.state).toBe('checking');
    expect(await publisher.fleet.device('stranger')).toBeUndefined();
  });

  it('refuses a subject that cannot name a device, and a channel that cannot listen', async () => {
    const nats = fakeNats();
    const publisher = createUpdatePublisher({ protocol: connhex.protocol, channels: { nats: nats.channel } });
    const target = { domain: 'example.com' };
    for (const subject of ['heartbeat.ota.service', 'edges.*.*.ota', 'edges.*.>']) {
      await expect(watchConnhexFleet(publisher, { nats: nats.channel, subject, target })).rejects.toThrow(
        /exactly one "\*"/,
      );
    }
    await expect(
      watchConnhexFleet(publisher, { nats: nats.channel, subject: 'edges..x', target }),
    ).rejects.toThrow(/NATS subject/);
    const deaf: Channel = { kind: 'nats', send: async () => undefined };
    await expect(
      watchConnhexFleet(publisher, { nats: deaf, subject: 'edges.*.ota', target }),
    ).rejects.toThrow(/cannot listen/);
  });
});
