/**
 * The loop that asks an HTTP order source again and again: plain polling every interval with
 * jitter (micropython_ota's version file, Connhex's HEAD check, ThingsBoard over HTTP), or long
 * polling (Exosite's `Request-Timeout` read): the server holds the request until something
 * changes, `304` means nothing new, and the next request leaves at once with `If-Modified-Since`
 * set from the last `Last-Modified`, so a change made between two polls is not missed.
 * Failures back off exponentially; no failure ends the loop, only `signal` does.
 *
 * @module
 */
import { sleep } from '../core/abort.js';
import type { Clock } from '../core/clock.js';
import { type OtaError, toOtaError } from '../core/errors.js';
import { backoffDelay, type RetryPolicy } from '../core/retry.js';
import type { InboundMessage, WireMessage } from '../protocols/contract.js';
import type { Channel } from '../transport/channel.js';

export interface PollOptions {
  /**
   * Time between two polls, in ms (plain polling; a long poll re-polls at once).
   * @default 60000
   */
  intervalMs?: number;
  /**
   * Spread of each interval, as a fraction: 0.1 waits between 90 % and 110 % of `intervalMs`,
   * so a fleet that booted together does not poll together.
   * @default 0.1
   */
  jitter?: number;
  /** Backoff after failed polls (its `attempts` is ignored: polling never gives up). */
  backoff?: Partial<Omit<RetryPolicy, 'attempts'>>;
}

export interface PollLoopOptions extends PollOptions {
  channel: Channel;
  request: WireMessage;
  clock: Clock;
  random: () => number;
  signal: AbortSignal;
  /** Each answer (not a 304 to a long poll). Awaited before the next poll. */
  onAnswer(message: InboundMessage): Promise<void>;
  onError(error: OtaError): void;
}

const DEFAULT_BACKOFF: RetryPolicy = {
  attempts: Infinity,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  factor: 2,
  jitter: 'full',
};

/** Least time between the starts of two long polls, in ms. */
const LONG_POLL_FLOOR_MS = 1_000;

/** Whether the request is a long poll: it asks the server to hold it (`Request-Timeout`). */
export function isLongPoll(request: WireMessage): boolean {
  return Object.keys(request.headers ?? {}).some((name) => name.toLowerCase() === 'request-timeout');
}

/** One poll: the request, with `If-Modified-Since` when a long poll has seen a `Last-Modified`. */
export async function pollOnce(
  channel: Channel,
  request: WireMessage,
  lastModified: string | undefined,
  signal: AbortSignal,
): Promise<InboundMessage> {
  const headers =
    lastModified === undefined ? request.headers : { ...request.headers, 'if-modified-since': lastModified };
  const answer = await channel.send(
    { ...request, ...(headers === undefined ? {} : { headers }) },
    { signal },
  );
  if (answer === undefined) throw new Error(`The ${channel.kind} channel gave no answer to a poll`);
  return answer;
}

/** Runs until `signal` aborts. Resolves then; never rejects. */
export async function runPollLoop(options: PollLoopOptions): Promise<void> {
  const { channel, request, clock, random, signal } = options;
  const longPoll = isLongPoll(request);
  const interval = options.intervalMs ?? 60_000;
  const jitter = Math.min(Math.max(options.jitter ?? 0.1, 0), 1);
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  let lastModified: string | undefined;
  let failures = 0;
  while (!signal.aborted) {
    const started = clock.now();
    try {
      const answer = await pollOnce(channel, request, longPoll ? lastModified : undefined, signal);
      failures = 0;
      if (longPoll && answer.headers?.['last-modified'] !== undefined)
        lastModified = answer.headers['last-modified'];
      if (!(longPoll && answer.status === 304)) await options.onAnswer(answer);
    } catch (error) {
      if (signal.aborted) return;
      failures++;
      options.onError(toOtaError(error, 'TRANSPORT', true));
    }
    const delay =
      failures > 0
        ? backoffDelay(backoff, failures, random)
        : longPoll
          ? // At once, unless the server answered at once: one that does not hold requests must
            // not be polled in a tight loop.
            Math.max(0, LONG_POLL_FLOOR_MS - (clock.now() - started))
          : interval * (1 - jitter + 2 * jitter * random());
    try {
      await sleep(delay, clock, signal);
    } catch {
      return;
    }
  }
}
