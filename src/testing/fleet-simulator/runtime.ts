/**
 * What every simulated device shares: the protocol, the channels, the clock, the faults, and the
 * functions that make a device act (hear a message, take an order, report, go away and come back).
 * A device itself holds only its state (fleet-device.ts); keeping the behaviour here, once, is what
 * makes a device cost a few hundred bytes.
 *
 * Wire behaviour follows the device agent (`createDeviceAgent`): the same order sources
 * (subscriptions, and the agent's own poll loop for HTTP sources), `decodeOrder` with the
 * device's committed update and the protocol's memory, the same rules for duplicate, superseded
 * and already-installed orders, and `encodeStatus` for every transition the update machine
 * reports, sent on the channel each message names. Three differences, each on purpose: the boot
 * report goes out once subscribed (Degu's boot `get` is answered on a topic the device must
 * already hear); the return to `idle` after an update is not sent (no platform's agent says it);
 * and a device back from an offline period sends its boot report again, as one that restarts.
 *
 * @module
 */
import { setMaxListeners } from 'node:events';
import type { EventEmitter } from 'eventemitter3';
import { sleep } from '../../core/abort.js';
import type { Clock } from '../../core/clock.js';
import { OtaError, type SerializedOtaError, TransportError, toOtaError } from '../../core/errors.js';
import type { UpdateState } from '../../core/states.js';
import type { UpdateRef, UpdateStatus } from '../../core/status.js';
import { type PollOptions, runPollLoop } from '../../device/poll-loop.js';
import type { Manifest } from '../../manifest/schema.js';
import type { InboundMessage, Protocol, WireMessage } from '../../protocols/contract.js';
import type { Channel, Channels, StopListening } from '../../transport/channel.js';
import type { FleetIgnoredReason, FleetSimulatorEvents } from './events.js';
import type { FleetDevice } from './fleet-device.js';
import { DEFAULTS, type DownloadOptions, type FleetSimulatorOptions, type SimulatedStep } from './options.js';
import { chance, drawMs, type MsRange } from './random.js';
import { runUpdate } from './update-run.js';

type Emitter = EventEmitter<FleetSimulatorEvents>;

export class FleetRuntime<Target> {
  readonly protocol: Protocol<string, string | number, Target>;
  readonly clock: Clock;
  readonly random: () => number;
  readonly devices = new Map<string, FleetDevice<Target>>();
  readonly download: DownloadOptions<Target>;
  readonly #shared: Channels;
  readonly #latency: Partial<Record<SimulatedStep, MsRange>>;
  readonly #poll: PollOptions | undefined;
  readonly #acknowledge: FleetSimulatorOptions<Target>['acknowledge'];
  readonly #offline: FleetSimulatorOptions<Target>['offline'];
  readonly #confirmReplays: boolean;
  readonly #rebootRate: number;
  readonly #rebootIds: ReadonlySet<string>;
  readonly #emitter: Emitter;
  /** Live between `start()` and `stop()` (aborted before and after): its signal ends every wait. */
  #lifetime = new AbortController();
  /** Poll loops and updates under way, for `stop()` to wait for. */
  readonly #tasks = new Set<Promise<unknown>>();
  /** Totals kept as they happen, so counting them costs nothing per device. */
  readonly totals = { sent: 0, received: 0, orders: 0, installs: 0, errors: 0, running: 0 };

  constructor(options: FleetSimulatorOptions<Target>, clock: Clock, random: () => number, emitter: Emitter) {
    this.protocol = options.protocol;
    this.clock = clock;
    this.random = random;
    this.download = options.download ?? DEFAULTS.download;
    this.#shared = options.channels ?? {};
    this.#latency = options.latency ?? {};
    this.#poll = options.poll;
    this.#acknowledge = options.acknowledge;
    this.#offline = options.offline;
    this.#confirmReplays = options.replays === 'confirm';
    this.#rebootRate = options.reboots?.rate ?? 0;
    this.#rebootIds = new Set(options.reboots?.devices ?? []);
    this.#emitter = emitter;
    this.#lifetime.abort();
  }

  /** Whether the simulator runs (started, not stopped). */
  get active(): boolean {
    return !this.#lifetime.signal.aborted;
  }

  /** The signal every wait listens to; aborted by `stop()`. */
  get signal(): AbortSignal {
    return this.#lifetime.signal;
  }

  begin(): void {
    this.#lifetime = new AbortController();
    // Every update waiting on the clock listens to it: thousands at once are expected, not a leak.
    setMaxListeners(0, this.#lifetime.signal);
  }

  /** Ends every wait, poll and subscription; resolves once updates under way have stopped. */
  async end(): Promise<void> {
    this.#lifetime.abort();
    const stops: Promise<void>[] = [];
    for (const device of this.devices.values()) {
      if (device.wake !== undefined) this.clock.clearTimeout(device.wake);
      device.wake = undefined;
      stops.push(this.unlisten(device));
    }
    await Promise.all(stops);
    await Promise.allSettled([...this.#tasks]);
    // Powered off: whatever was under way is abandoned (a later start() does not resume it), and
    // every device starts again online and at rest.
    for (const device of this.devices.values()) {
      device.offlineUntil = 0;
      device.state = 'idle';
    }
  }

  /** Keeps `task` until it settles, so `stop()` can wait for it. */
  track(task: Promise<unknown>): void {
    this.#tasks.add(task);
    const done = () => void this.#tasks.delete(task);
    task.then(done, done);
  }

  channel(device: FleetDevice<Target>, kind: WireMessage['channel']): Channel | undefined {
    return device.channels?.[kind] ?? this.#shared[kind];
  }

  /** A problem a real agent would log and survive: an `error` event, never thrown. */
  problem(device: FleetDevice<Target>, error: OtaError): void {
    this.totals.errors++;
    if (this.#emitter.listenerCount('error') > 0) this.#emitter.emit('error', { deviceId: device.id, error });
  }

  ignored(device: FleetDevice<Target>, reason: FleetIgnoredReason, manifest: Manifest): void {
    if (this.#emitter.listenerCount('ignored') === 0) return;
    this.#emitter.emit('ignored', {
      deviceId: device.id,
      reason,
      update: { id: manifest.id, version: manifest.version },
    });
  }

  emit<E extends keyof FleetSimulatorEvents>(event: E, build: () => FleetSimulatorEvents[E][0]): void {
    if (this.#emitter.listenerCount(event) === 0) return;
    (this.#emitter.emit as (event: E, payload: FleetSimulatorEvents[E][0]) => boolean)(event, build());
  }

  /**
   * Sends messages in order, each on the channel it names. A refused one (no channel, HTTP 400
   * or more, a failed publish) is an `error` event and the rest still go, as the agent does.
   */
  async send(device: FleetDevice<Target>, messages: readonly WireMessage[]): Promise<void> {
    for (const message of messages) {
      const channel = this.channel(device, message.channel);
      try {
        if (channel === undefined) {
          throw new OtaError('CONFIG', `Device ${device.id} has no "${message.channel}" channel to send on`);
        }
        const answer = await channel.send(message);
        if (answer?.status !== undefined && answer.status >= 400) {
          throw new TransportError(
            `The platform refused a message of device ${device.id} (HTTP ${answer.status})`,
            {
              status: answer.status,
              retryable: answer.status >= 500,
            },
          );
        }
        device.sent++;
        this.totals.sent++;
      } catch (error) {
        this.problem(device, toOtaError(error, 'REPORT', true));
      }
    }
  }

  /**
   * Enters `state` and reports it, as the update machine does on every transition: the
   * `UpdateStatus` the machine would build, through `encodeStatus`, on the wire.
   */
  async report(
    device: FleetDevice<Target>,
    state: UpdateState,
    update: UpdateRef | null,
    error: SerializedOtaError | null = null,
  ): Promise<void> {
    const previous = device.state;
    device.state = state;
    if (!this.active) return;
    const status: UpdateStatus = {
      machineId: device.id,
      updateId: update?.id ?? null,
      version: update?.version ?? null,
      state,
      previous,
      at: new Date(this.clock.now()).toISOString(),
      progress: null,
      error,
    };
    let messages: WireMessage[] = [];
    // The return to idle after an update is not put on the wire: no platform's agent says it
    // (Exosite's codec would write INSTALLED_VERSION naming no version, which reads as the update
    // undone; its agent leaves it out, and every other codec has no word for it).
    if (state !== 'idle') {
      try {
        messages = this.protocol.device.encodeStatus(status, {
          target: device.target,
          current: device.installed,
        });
      } catch (thrown) {
        this.problem(device, toOtaError(thrown, 'REPORT'));
      }
    }
    await this.send(device, messages);
    this.emit('status', () => ({ deviceId: device.id, status, messages }));
  }

  /** Waits the step's latency (drawn per step) on the clock. Rejects once the simulator stops. */
  async pause(step: SimulatedStep): Promise<void> {
    const ms = drawMs(this.#latency[step], this.random);
    if (ms > 0) await sleep(ms, this.clock, this.signal);
    else this.signal.throwIfAborted();
  }

  /**
   * Before each step: maybe drop off (the `offline` rate), and wait while away. Steps already under
   * way finish; the next transition (and its status) waits for the device to be back.
   */
  async gate(device: FleetDevice<Target>): Promise<void> {
    const offline = this.#offline;
    if (offline !== undefined && chance(offline.rate, this.random)) {
      this.goOffline(device, drawMs(offline.durationMs, this.random), 'offline', true);
    }
    for (let now = this.clock.now(); device.offlineUntil > now; now = this.clock.now()) {
      await sleep(device.offlineUntil - now, this.clock, this.signal);
    }
    this.signal.throwIfAborted();
  }

  /** Whether this install attempt of `device` reboots. */
  reboots(device: FleetDevice<Target>): boolean {
    return this.#rebootIds.has(device.id) || chance(this.#rebootRate, this.random);
  }

  rebootMs(): number {
    return drawMs(this.#latency.reboot, this.random);
  }

  // --- Listening -------------------------------------------------------------------------------

  /**
   * Subscribes to the device's order sources and starts its polls (the agent's poll loop, on the
   * simulator's clock). Idempotent.
   */
  async listen(device: FleetDevice<Target>): Promise<void> {
    if (device.listening !== null || !this.active) return;
    const stops: StopListening[] = [];
    device.listening = stops;
    for (const source of this.protocol.device.orderSources(device.target)) {
      const channel = this.channel(device, source.channel);
      if (channel === undefined) {
        this.problem(
          device,
          new OtaError('CONFIG', `Device ${device.id} has no "${source.channel}" channel`),
        );
        continue;
      }
      if (source.channel === 'http') {
        device.polls ??= new AbortController();
        this.track(
          runPollLoop({
            ...this.#poll,
            channel,
            request: source.request,
            clock: this.clock,
            random: this.random,
            signal: device.polls.signal,
            // An answer that does not decode (a 401, a 503 page) is a failed poll: it backs off.
            onAnswer: async (message) => this.receive(device, message, true),
            onError: (error) => this.problem(device, error),
          }),
        );
        continue;
      }
      try {
        if (channel.listen === undefined)
          throw new OtaError('CONFIG', `The ${source.channel} channel cannot listen`);
        const stop = await channel.listen(source, (message) => this.receive(device, message));
        // Stopped or taken offline while the broker granted it: undo at once.
        if (device.listening === stops) stops.push(stop);
        else await stop().catch(() => {});
      } catch (error) {
        this.problem(device, toOtaError(error, 'TRANSPORT', true));
      }
    }
  }

  /** Unsubscribes and stops the polls. Idempotent. */
  async unlisten(device: FleetDevice<Target>): Promise<void> {
    const stops = device.listening;
    device.listening = null;
    device.polls?.abort();
    device.polls = null;
    if (stops !== null) await Promise.all(stops.splice(0).map((stop) => stop().catch(() => {})));
  }

  /** Listens, then says what it runs (the protocol's boot report). Silent devices only listen. */
  async connect(device: FleetDevice<Target>): Promise<void> {
    await this.listen(device);
    if (device.silent || !this.active) return;
    let messages: WireMessage[] = [];
    try {
      messages = this.protocol.device.bootReport(device.installed, {
        target: device.target,
        current: device.installed,
      });
    } catch (error) {
      this.problem(device, toOtaError(error, 'REPORT'));
    }
    await this.send(device, messages);
  }

  // --- Away and back -----------------------------------------------------------------------------

  /**
   * Takes the device away for `ms`: it unsubscribes and stops polling (so the broker and the
   * servers see it gone), and its update, if any, waits at its next step. With `returns`, a timer
   * brings it back; a reboot is brought back by its update instead, once the update is finished.
   */
  goOffline(device: FleetDevice<Target>, ms: number, reason: 'offline' | 'reboot', returns: boolean): void {
    const until = Math.max(device.offlineUntil, this.clock.now() + Math.max(0, ms));
    device.offlineUntil = until;
    void this.unlisten(device);
    if (returns && this.active) {
      if (device.wake !== undefined) this.clock.clearTimeout(device.wake);
      device.wake = this.clock.setTimeout(() => {
        device.wake = undefined;
        this.track(this.comeBack(device));
      }, until - this.clock.now());
    }
    this.emit('offline', () => ({ deviceId: device.id, reason, until }));
  }

  /** Back: listening again and its boot report sent, as a device that reconnects after a restart. */
  async comeBack(device: FleetDevice<Target>): Promise<void> {
    if (device.offlineUntil === 0) return;
    device.offlineUntil = 0;
    if (!this.active) return;
    await this.connect(device);
    this.emit('online', () => ({ deviceId: device.id }));
  }

  // --- Orders ------------------------------------------------------------------------------------

  /**
   * One message from an order source: replies (acknowledgements) first, then `decodeOrder` with
   * what the device runs and the protocol's memory. A message that does not decode is an `error`
   * event; with `rethrow` (a poll) it also fails the poll, which then backs off.
   */
  receive(device: FleetDevice<Target>, message: InboundMessage, rethrow = false): void {
    if (!this.active || device.offlineUntil !== 0) return;
    device.received++;
    this.totals.received++;
    if (this.#acknowledge !== undefined && !device.silent) this.#reply(device, message);
    let decoding: ReturnType<typeof this.protocol.device.decodeOrder>;
    try {
      decoding = this.protocol.device.decodeOrder(message, {
        target: device.target,
        current: device.installed,
        ...(device.memory === undefined ? {} : { memory: device.memory }),
      });
    } catch (error) {
      const failure = toOtaError(error, 'TRANSPORT', true);
      this.problem(device, failure);
      if (rethrow) throw failure;
      return;
    }
    if (decoding.memory !== undefined) device.memory = decoding.memory;
    const manifest = decoding.value;
    if (manifest === null) return;
    device.orders++;
    this.totals.orders++;
    this.emit('order', () => ({
      deviceId: device.id,
      manifest,
      lost: decoding.lost,
      address: message.address,
    }));
    this.take(device, manifest);
  }

  #reply(device: FleetDevice<Target>, message: InboundMessage): void {
    let replies: WireMessage[];
    try {
      replies = this.#acknowledge!(message, device.target);
    } catch (error) {
      this.problem(device, toOtaError(error, 'REPORT'));
      return;
    }
    if (replies.length === 0) return;
    const key = replies.map((reply) => `${reply.address}\n${reply.payload}`).join('\n');
    if (key === device.lastReply) return;
    device.lastReply = key;
    this.track(this.send(device, replies));
  }

  /** `committed` reported again for the update the device runs (insigh.io's replayed order). */
  async #confirm(device: FleetDevice<Target>, installed: UpdateRef): Promise<void> {
    const status: UpdateStatus = {
      machineId: device.id,
      updateId: installed.id,
      version: installed.version,
      state: 'committed',
      previous: 'installed',
      at: new Date(this.clock.now()).toISOString(),
      progress: null,
      error: null,
    };
    let messages: WireMessage[] = [];
    try {
      messages = this.protocol.device.encodeStatus(status, { target: device.target, current: installed });
    } catch (error) {
      this.problem(device, toOtaError(error, 'REPORT'));
    }
    await this.send(device, messages);
    this.emit('status', () => ({ deviceId: device.id, status, messages }));
  }

  /**
   * Runs an order now, or keeps it for when the running update ends (the agent's rules): the
   * update under way ordered again is a duplicate; a newer order waits, replacing one that already
   * waited; the update the device runs is never installed again; a failed one may be retried.
   */
  take(device: FleetDevice<Target>, manifest: Manifest): void {
    const running = device.running;
    if (running !== null) {
      if (running.id === manifest.id) {
        this.ignored(device, 'duplicate', manifest);
        return;
      }
      if (device.pending !== null) this.ignored(device, 'superseded', device.pending);
      device.pending = manifest;
      return;
    }
    const installed = device.installed;
    if (installed !== null && installed.id === manifest.id && installed.version === manifest.version) {
      this.ignored(device, 'already_installed', manifest);
      if (this.#confirmReplays && !device.silent && this.active) this.track(this.#confirm(device, installed));
      return;
    }
    if (device.silent || !this.active) return;
    this.track(runUpdate(this, device, manifest));
  }
}
