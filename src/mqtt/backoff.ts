/**
 * The reconnection schedule of `connectMqtt`: exponential backoff with jitter. mqtt.js only knows
 * a fixed `reconnectPeriod`, so a fleet that lost its broker would come back all at once, every
 * second, for as long as the broker is away; doubling the delay spreads the load and the jitter
 * keeps devices that dropped together from retrying together.
 *
 * @module
 */
import { OtaError } from '../core/errors.js';

/** How `connectMqtt` spaces its reconnection attempts. */
export interface ReconnectOptions {
  /**
   * The delay before the first attempt after a loss; each failed attempt doubles it. The
   * delay actually waited is drawn between half of it and all of it (jitter).
   * @default the client's `reconnectPeriod`, else 1000
   */
  initialMs?: number;
  /**
   * The longest delay between two attempts, however long the broker stays away.
   * @default 30000
   */
  maxMs?: number;
}

/** {@link ReconnectOptions} with every default filled in, checked. */
export interface ReconnectSchedule {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_RECONNECT_INITIAL_MS = 1_000;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;

/** A delay mqtt.js can take: a positive integer (0 would mean "never reconnect" to it). */
function positiveMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
    throw new OtaError('CONFIG', `${field} must be an integer number of milliseconds from 1 to 2^31-1`);
  }
  return value;
}

/**
 * The schedule of `options`, validated.
 * @throws OtaError (`CONFIG`) naming the field when a delay is not a positive integer, or when
 * `maxMs` is below `initialMs`.
 */
export function reconnectSchedule(
  options: ReconnectOptions | undefined,
  fallbackInitialMs = DEFAULT_RECONNECT_INITIAL_MS,
): ReconnectSchedule {
  const initialMs = positiveMs(options?.initialMs ?? fallbackInitialMs, 'reconnect.initialMs');
  const maxMs = positiveMs(
    options?.maxMs ?? Math.max(DEFAULT_RECONNECT_MAX_MS, initialMs),
    'reconnect.maxMs',
  );
  if (maxMs < initialMs) {
    throw new OtaError('CONFIG', 'reconnect.maxMs must not be below reconnect.initialMs');
  }
  return { initialMs, maxMs };
}

/**
 * The delay before reconnection attempt `attempt` (0 for the first after a loss): `initialMs`
 * doubled `attempt` times, capped at `maxMs`, then drawn in its upper half ("equal jitter"), so
 * the delay still grows while no two devices keep the same rhythm. Always at least 1 ms.
 */
export function reconnectDelay(attempt: number, schedule: ReconnectSchedule, random: () => number): number {
  // 2^31 already exceeds any cap: stop doubling there, so a long outage cannot overflow.
  const ceiling = Math.min(schedule.maxMs, schedule.initialMs * 2 ** Math.min(attempt, 31));
  const drawn = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(1, Math.min(ceiling, Math.round(drawn)));
}
