/**
 * The poll loop's timing, on a manual clock with a fake channel (the loop's I/O is tested on real
 * servers in agent.test.ts): intervals spread by jitter within their bounds, backoff after
 * failures, long polls re-polling at once but never in a tight loop, `If-Modified-Since` carried.
 */
import { describe, expect, it } from 'vitest';
import { runPollLoop } from '../../src/device/poll-loop.js';
import {
  createDeviceAgent,
  exosite,
  type InboundMessage,
  MemoryStore,
  type OtaError,
  type WireMessage,
} from '../../src/index.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { SimulatedDevice } from '../../src/testing/simulated-device.js';
import type { Channel } from '../../src/transport/channel.js';

const PLAIN: WireMessage = { channel: 'http', address: 'http://x/version', payload: '', method: 'GET' };
const LONG: WireMessage = { ...PLAIN, headers: { 'request-timeout': '300000' } };

/** A channel answering from a script; records when each request was sent and with which headers. */
function scripted(clock: ManualClock, answers: (InboundMessage | Error)[]) {
  const sent: { at: number; headers: Readonly<Record<string, string>> | undefined }[] = [];
  const channel: Channel = {
    kind: 'http',
    async send(message) {
      sent.push({ at: clock.now(), headers: message.headers });
      const next = answers.shift() ?? new Error('script over');
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { channel, sent };
}

describe('runPollLoop', () => {
  it('waits intervalMs ± jitter between polls, with the extremes of the random source', async () => {
    for (const [random, expected] of [
      [() => 0, 900],
      [() => 0.999_999, 1_100],
      [() => 0.5, 1_000],
    ] as const) {
      const clock = new ManualClock(0);
      const { channel, sent } = scripted(
        clock,
        Array.from({ length: 10 }, () => ({ address: PLAIN.address, payload: '1.0.0', status: 200 })),
      );
      const controller = new AbortController();
      const answers: InboundMessage[] = [];
      const loop = runPollLoop({
        channel,
        request: PLAIN,
        clock,
        random,
        signal: controller.signal,
        intervalMs: 1_000,
        jitter: 0.1,
        onAnswer: async (answer) => void answers.push(answer),
        onError: () => {},
      });
      await clock.advance(3_500);
      controller.abort();
      await loop;
      const gaps = sent.slice(1).map((entry, index) => entry.at - sent[index]!.at);
      expect(gaps.length).toBeGreaterThanOrEqual(2);
      for (const gap of gaps) expect(Math.abs(gap - expected)).toBeLessThanOrEqual(1);
      expect(answers).toHaveLength(sent.length);
    }
  });

  it('backs off exponentially after failures, then returns to the interval', async () => {
    const clock = new ManualClock(0);
    const ok = { address: PLAIN.address, payload: '1', status: 200 };
    const { channel, sent } = scripted(clock, [
      new Error('down'),
      new Error('down'),
      new Error('down'),
      ok,
      ok,
    ]);
    const controller = new AbortController();
    const errors: string[] = [];
    const loop = runPollLoop({
      channel,
      request: PLAIN,
      clock,
      random: () => 0.999_999,
      signal: controller.signal,
      intervalMs: 10_000,
      jitter: 0,
      backoff: { baseDelayMs: 100, maxDelayMs: 250, jitter: 'none' },
      onAnswer: async () => {},
      onError: (error) => errors.push(error.code),
    });
    await clock.advance(20_000);
    controller.abort();
    await loop;
    const gaps = sent.slice(1).map((entry, index) => entry.at - sent[index]!.at);
    // 100, 200, then capped at 250; after the success the plain interval.
    expect(gaps.slice(0, 4)).toEqual([100, 200, 250, 10_000]);
    expect(errors).toEqual(['TRANSPORT', 'TRANSPORT', 'TRANSPORT']);
  });

  it('long polls: re-polls at once after a held answer, never faster than once a second, with If-Modified-Since', async () => {
    const clock = new ManualClock(0);
    const held = (status: number, lastModified: string): InboundMessage => ({
      address: LONG.address,
      payload: '',
      status,
      headers: { 'last-modified': lastModified },
    });
    const answers = [held(304, 'A'), held(200, 'B'), held(304, 'B')];
    const sent: { at: number; since: string | undefined }[] = [];
    const channel: Channel = {
      kind: 'http',
      async send(message) {
        sent.push({ at: clock.now(), since: message.headers?.['if-modified-since'] });
        // The server holds the first request 5 s; the others come back at once.
        if (sent.length === 1) await new Promise<void>((resolve) => clock.setTimeout(resolve, 5_000));
        const next = answers.shift();
        if (next === undefined) throw new Error('script over');
        return next;
      },
    };
    const controller = new AbortController();
    const delivered: (number | undefined)[] = [];
    const loop = runPollLoop({
      channel,
      request: LONG,
      clock,
      random: () => 0.5,
      signal: controller.signal,
      intervalMs: 60_000,
      onAnswer: async (answer) => void delivered.push(answer.status),
      onError: () => {},
    });
    await clock.advance(7_500);
    controller.abort();
    await loop;
    expect(sent.slice(0, 3)).toEqual([
      { at: 0, since: undefined },
      { at: 5_000, since: 'A' }, // held 5 s: at once
      { at: 6_000, since: 'B' }, // answered at once: a second after the previous start
    ]);
    // A 304 is nothing new: only the 200 reached the agent.
    expect(delivered).toEqual([200]);
  });
});

describe('a device agent polling', () => {
  it('backs off when the answers do not decode (a long poll answered 401), instead of re-polling each second', async () => {
    const clock = new ManualClock(0);
    const refusal: InboundMessage = {
      address: 'https://abc123.m2.exosite.io/onep:v1/stack/alias',
      payload: '',
      status: 401,
    };
    const { channel, sent } = scripted(
      clock,
      Array.from({ length: 20 }, () => ({ ...refusal })),
    );
    const agent = createDeviceAgent({
      id: 'sensor-1',
      protocol: exosite.protocol,
      target: { productId: 'abc123', identity: 'sensor-1', transport: 'http', token: 'cik-secret-token-1' },
      channels: { http: channel },
      store: new MemoryStore(),
      hooks: new SimulatedDevice({ id: 'sensor-1', content: new Map() }).hooks,
      clock,
      random: () => 0.5,
      poll: { backoff: { baseDelayMs: 10_000, maxDelayMs: 10_000, jitter: 'none' } },
    });
    const errors: OtaError[] = [];
    agent.on('error', (error) => errors.push(error));
    await agent.start();
    await clock.advance(0);
    const polls = () => sent.filter((entry) => entry.headers?.['request-timeout'] !== undefined).length;
    const first = polls();
    expect(first).toBeGreaterThanOrEqual(1);
    await clock.advance(9_000); // a long poll would otherwise ask again after 1 s
    expect(polls()).toBe(first);
    await clock.advance(1_500);
    expect(polls()).toBe(first + 1);
    // Each failed poll is one typed error event, not two, and names no credential.
    expect(errors.length).toBe(polls());
    for (const error of errors) {
      expect(error.code).toBe('TRANSPORT');
      expect(error.message).not.toContain('cik-secret-token-1');
    }
    await agent.stop();
  });
});
