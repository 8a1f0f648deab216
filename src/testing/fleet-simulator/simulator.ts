/**
 * The fleet simulator: N lightweight devices of one platform that speak its protocol on real
 * channels, for dry runs of staged rollouts against the real cloud side and for fleet-sized
 * benchmarks. See docs/testing/fleet-simulator.md.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { abortReason } from '../../core/abort.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { OtaError, TimeoutError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import type { FleetSimulatorEvents } from './events.js';
import { assignFaults, checkedRules } from './faults.js';
import { FleetDevice, type FleetDeviceSnapshot, snapshotOf } from './fleet-device.js';
import { DEFAULTS, type FleetSimulatorOptions } from './options.js';
import { FleetRuntime } from './runtime.js';
import { type FleetStats, fleetStats } from './stats.js';

/** Options of {@link FleetSimulator.waitFor}. */
export interface FleetWaitOptions {
  signal?: AbortSignal;
  /** Rejects with a `TimeoutError` after this many ms on the simulator's clock. @default no limit */
  timeoutMs?: number;
}

/** The events after which `waitFor` looks again. */
const CHANGES = ['status', 'outcome', 'order', 'ignored', 'online', 'offline'] as const;

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: Iterable<T>, limit: number, work: (item: T) => Promise<void>) {
  const iterator = items[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); next.done !== true; next = iterator.next()) await work(next.value);
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
}

/**
 * @example
 * ```ts
 * const sim = createFleetSimulator({
 *   protocol: insighIo.protocol,
 *   devices: ids.map((id) => ({ id, target: { controlChannelId: 'cc', deviceId: id } })),
 *   channels: { mqtt: mqttChannel(await connectMqtt(brokerUrl)) },
 *   failures: { kind: 'download_failed', rate: 0.02 },
 *   latency: { download: [200, 2_000], install: [100, 500] },
 *   random: seededRandom(7),
 * })
 * await sim.start()
 * // … publish to every device, then wait until each heard its order and none is still updating:
 * await sim.waitFor((s) => s.stats().ordersReceived === ids.length && s.stats().running === 0)
 * console.log(sim.stats(), [...sim.installCounts(updateId).values()].every((n) => n <= 1))
 * await sim.stop()
 * ```
 */
export class FleetSimulator<Target = unknown> extends EventEmitter<FleetSimulatorEvents> {
  /** The protocol the devices speak. */
  readonly protocol: FleetSimulatorOptions<Target>['protocol'];
  readonly clock: Clock;
  readonly #runtime: FleetRuntime<Target>;
  readonly #startConcurrency: number;
  #started = false;

  /**
   * @throws OtaError (`CONFIG`) for a duplicate or empty device id, a bad failure rule, or a
   *   device without a channel its order sources need; ManifestError naming the field of an
   *   invalid target.
   */
  constructor(options: FleetSimulatorOptions<Target>) {
    super();
    const { protocol } = options;
    if (protocol?.device === undefined) throw new OtaError('CONFIG', 'The fleet simulator needs a protocol');
    if (!Array.isArray(options.devices)) throw new OtaError('CONFIG', 'devices must be an array');
    this.protocol = protocol;
    this.clock = options.clock ?? systemClock;
    const random = options.random ?? Math.random;
    this.#startConcurrency = options.startConcurrency ?? DEFAULTS.startConcurrency;
    this.#runtime = new FleetRuntime(options, this.clock, random, this);
    const pick = assignFaults(checkedRules(options.failures), random);
    const checked = new Set<string>();
    for (const spec of options.devices) {
      const id = spec?.id;
      if (typeof id !== 'string' || id.length === 0) {
        throw new OtaError('CONFIG', 'Every simulated device needs an id: a non-empty string');
      }
      if (this.#runtime.devices.has(id))
        throw new OtaError('CONFIG', `Two simulated devices have the id "${id}"`);
      const target = parseWith(protocol.targetSchema, spec.target, `${protocol.name} target of device ${id}`);
      const installed =
        spec.installed !== undefined
          ? spec.installed
          : typeof options.installed === 'function'
            ? options.installed({ id, target })
            : (options.installed ?? null);
      const device = new FleetDevice(id, target, spec.channels, installed, pick(id));
      // Every device of a shared channel set needs the same kinds: check each kind set once.
      const kinds = protocol.device
        .orderSources(target)
        .map((source) => source.channel)
        .join();
      if (spec.channels !== undefined || !checked.has(kinds)) {
        checked.add(kinds);
        this.#checkChannels(device);
      }
      this.#runtime.devices.set(id, device);
    }
  }

  #checkChannels(device: FleetDevice<Target>): void {
    for (const source of this.protocol.device.orderSources(device.target)) {
      const channel = this.#runtime.channel(device, source.channel);
      if (channel === undefined) {
        throw new OtaError(
          'CONFIG',
          `${this.protocol.name} takes orders over ${source.channel}: give device ${device.id} (or every device) a "${source.channel}" channel`,
        );
      }
      if (source.channel !== 'http' && channel.listen === undefined) {
        throw new OtaError('CONFIG', `The ${source.channel} channel of device ${device.id} cannot listen`);
      }
    }
  }

  /** Whether `start()` ran and `stop()` did not. */
  get running(): boolean {
    return this.#started;
  }

  /** How many devices it simulates. */
  get size(): number {
    return this.#runtime.devices.size;
  }

  /** The device ids, in the order given. */
  ids(): string[] {
    return [...this.#runtime.devices.keys()];
  }

  /**
   * Brings the fleet online: every device subscribes to its order sources (or starts polling
   * them) and sends its boot report, `startConcurrency` at a time. Resolves once all did; orders
   * they hear run on. A subscription or report that fails is an `error` event, not a rejection.
   */
  async start(): Promise<void> {
    if (this.#started) throw new OtaError('STATE', 'The fleet simulator is already started');
    this.#started = true;
    this.#runtime.begin();
    await eachLimited(this.#runtime.devices.values(), this.#startConcurrency, (device) =>
      this.#runtime.connect(device),
    );
  }

  /**
   * Takes the fleet offline: polls and subscriptions end, updates under way stop where they are
   * (as processes that exit; nothing more is reported). The channels stay open: they are the
   * caller's. The devices keep their state; `start()` brings them back.
   */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.#runtime.end();
  }

  /**
   * Takes device `id` away for `ms` (on the clock): it unsubscribes and stops polling, so what is
   * published meanwhile reaches it only if retained, and an update under way waits at its next
   * step. Then it comes back as a device that reconnects after a restart: it listens again
   * (retained orders are delivered again) and sends its boot report (Degu's shadow `get`,
   * ThingsBoard's attribute request), then its update goes on.
   * @throws OtaError (`STATE`) when the simulator is not started, (`CONFIG`) for an unknown id.
   */
  setOffline(id: string, ms: number): void {
    if (!this.#started) throw new OtaError('STATE', 'setOffline() needs a started fleet simulator');
    if (!(ms >= 0)) throw new OtaError('CONFIG', 'setOffline(): ms must be a number of ms, 0 or more');
    this.#runtime.goOffline(this.#device(id), ms, 'offline', true);
  }

  /** Brings device `id` back now, before its offline period ends. */
  async setOnline(id: string): Promise<void> {
    const device = this.#device(id);
    if (device.wake !== undefined) this.clock.clearTimeout(device.wake);
    device.wake = undefined;
    await this.#runtime.comeBack(device);
  }

  /** What device `id` is doing and has done. @throws OtaError (`CONFIG`) for an unknown id. */
  device(id: string): FleetDeviceSnapshot {
    return snapshotOf(this.#device(id) as FleetDevice<unknown>);
  }

  /** Every device's snapshot, in the order given. */
  devices(): FleetDeviceSnapshot[] {
    return [...this.#runtime.devices.values()].map((device) => snapshotOf(device as FleetDevice<unknown>));
  }

  /**
   * How many times each device installed (committed) `updateId`, or any update without it; every
   * device is listed, 0 included. A rollout test's "updated exactly once" is
   * `[...sim.installCounts(id).values()].every((n) => n === 1)`.
   */
  installCounts(updateId?: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const device of this.#runtime.devices.values()) {
      let count = 0;
      if (device.installs !== null) {
        if (updateId === undefined) for (const n of device.installs.values()) count += n;
        else count = device.installs.get(updateId) ?? 0;
      }
      counts.set(device.id, count);
    }
    return counts;
  }

  /** Totals: devices per state, updates under way, installs, messages sent and received. */
  stats(): FleetStats {
    return fleetStats(this.#runtime.devices.values() as Iterable<FleetDevice<unknown>>, this.#runtime.totals);
  }

  /**
   * Resolves once `check` is true, looking again after every status, outcome, order and
   * offline/online change (at most once per tick). The promise twin of the events.
   */
  waitFor(check: (simulator: this) => boolean, options: FleetWaitOptions = {}): Promise<void> {
    if (check(this)) return Promise.resolve();
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      let queued = false;
      const finish = (error?: unknown) => {
        for (const event of CHANGES) this.off(event, look);
        signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) this.clock.clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      };
      const look = () => {
        if (queued) return;
        queued = true;
        queueMicrotask(() => {
          queued = false;
          try {
            if (check(this)) finish();
          } catch (error) {
            finish(error);
          }
        });
      };
      const onAbort = () => finish(abortReason(signal!));
      const timer =
        timeoutMs === undefined
          ? undefined
          : this.clock.setTimeout(
              () => finish(new TimeoutError('fleet simulator waitFor', timeoutMs)),
              timeoutMs,
            );
      for (const event of CHANGES) this.on(event, look);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #device(id: string): FleetDevice<Target> {
    const device = this.#runtime.devices.get(id);
    if (device === undefined) throw new OtaError('CONFIG', `No simulated device "${id}"`);
    return device;
  }
}

/** Creates a {@link FleetSimulator}; see its example and docs/testing/fleet-simulator.md. */
export function createFleetSimulator<Target>(options: FleetSimulatorOptions<Target>): FleetSimulator<Target> {
  return new FleetSimulator(options);
}
