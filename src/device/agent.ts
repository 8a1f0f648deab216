/**
 * The device agent: one protocol, its channels, the persistent update machine and the
 * application's hooks (download, install…), wired once. It listens where the protocol says orders
 * arrive (MQTT topics, NATS subjects, HTTP polls and long polls), decodes each with the protocol,
 * runs the update, and sends every status in the platform's own words. Every platform preset
 * (`createDeguAgent`, `createInsighioAgent`… in `otakit/node`) is this agent with defaults filled in.
 *
 * @example
 * ```ts
 * import { createDeviceAgent, insighIo, mqttChannel } from 'otakit'
 * import { connectMqtt } from 'otakit/mqtt'
 * import { FileStore } from 'otakit/node'
 *
 * const agent = createDeviceAgent({
 *   id: 'dev-1',
 *   protocol: insighIo.protocol,
 *   target: { controlChannel: 'ctrl-1', deviceId: 'dev-1' },
 *   channels: { mqtt: mqttChannel(await connectMqtt(url, { username: 'dev-1', password: key })) },
 *   store: new FileStore('/var/lib/agent'),
 *   hooks: { download, install },
 * })
 * agent.on('transition', ({ from, to }) => console.log(from, '->', to))
 * await agent.start()
 * ```
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from '../core/clock.js';
import { OtaError, TransportError, toOtaError } from '../core/errors.js';
import { type Logger, noopLogger } from '../core/logger.js';
import { serialize } from '../core/serialize.js';
import type { UpdateRef } from '../core/status.js';
import type { JsonValue, StateStore } from '../core/store.js';
import { parseWith } from '../core/validate.js';
import { type DeviceMachineOptions, DeviceUpdateMachine } from '../machine/device-machine.js';
import type { UpdateHooks } from '../machine/hooks.js';
import type { UpdateOutcome } from '../machine/record.js';
import type { Manifest } from '../manifest/schema.js';
import type { InboundMessage, Protocol, WireMessage } from '../protocols/contract.js';
import type { Channel, Channels, StopListening } from '../transport/channel.js';
import type { DeviceAgentEvents, IgnoredReason } from './events.js';
import { type PollOptions, pollOnce, runPollLoop } from './poll-loop.js';

/** Machine options an agent passes through (it sets `id`, `store`, `hooks`, `clock` and `logger` itself). */
export type AgentMachineOptions = Omit<
  DeviceMachineOptions,
  'id' | 'store' | 'hooks' | 'role' | 'clock' | 'logger'
>;

export interface DeviceAgentOptions<Target> {
  /** This device's id: the machine id, and the key of everything the agent persists. */
  id: string;
  /** The platform's protocol (`degu.protocol`, `insighIo.protocol`…). */
  protocol: Protocol<string, string | number, Target>;
  /** Addresses this device on the platform; validated with `protocol.targetSchema` at creation. */
  target: Target;
  /** The channels the protocol's messages travel on, by kind. */
  channels: Channels;
  /** Where the machine and the agent persist (a `FileStore` on a device). */
  store: StateStore;
  /** The update steps. `download` and `install` are required (presets fill them in). */
  hooks: UpdateHooks;
  /** Timeouts, retries, `allowUnverified`… of the machine. */
  machine?: AgentMachineOptions;
  /** How HTTP order sources are polled. */
  poll?: PollOptions;
  /**
   * Asked before an order is run. Resolve `false` to leave it (an `ignored` event with
   * `not_approved`; run it later with `apply()`), e.g. for Connhex's `auto_download = false`.
   * @default every order is run
   */
  approve?: (manifest: Manifest) => boolean | Promise<boolean>;
  /**
   * Fetches the current order where the platform does not push it at start: an AWS shadow `get`,
   * a ThingsBoard attribute request. Its messages are decoded like pushed ones. Called by
   * `start()` (after subscribing) and `checkNow()`.
   * @default polls the protocol's HTTP order sources once
   */
  fetchOrder?: (signal: AbortSignal) => Promise<InboundMessage[]>;
  /** @default systemClock */
  clock?: Clock;
  /** @default noopLogger */
  logger?: Logger;
  /** Random source of poll jitter and backoff. @default Math.random */
  random?: () => number;
}

export interface StartOptions {
  /** Aborting it stops the agent, as `stop()` does. */
  signal?: AbortSignal;
}

export interface StopOptions {
  /**
   * Cancel the running update (it is reported as canceled) instead of letting it finish.
   * Without it, `stop()` waits for the running update; a process that exits instead simply
   * resumes it at the next `start()`.
   * @default false
   */
  cancel?: boolean;
}

/** The id of the run that resumes at start (no update id can be empty). */
const RESUME = '';

/** The store key of what the agent remembers beside the machine (the protocol's order memory). */
export function agentStoreKey(id: string): string {
  return `otakit/agent/${id}`;
}

interface Run {
  id: string;
  done: Promise<UpdateOutcome | null>;
}

interface AgentRecord {
  format: 'otakit.agent/1';
  memory: JsonValue | null;
}

export class DeviceAgent<Target = unknown> extends EventEmitter<DeviceAgentEvents> {
  readonly id: string;
  readonly protocol: Protocol<string, string | number, Target>;
  readonly target: Target;
  /** The update machine: its snapshot is the agent's state. */
  readonly machine: DeviceUpdateMachine;
  readonly #options: DeviceAgentOptions<Target>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #random: () => number;
  /** Orders are decoded one at a time, in arrival order (decoding may update the memory). */
  readonly #decodeQueue = serialize();
  #memory: JsonValue | undefined;
  #lifetime: AbortController | undefined;
  #listeners: StopListening[] = [];
  #loops: Promise<void>[] = [];
  /** The update running now, and its id; `done` resolves with its outcome (`null` if it threw). */
  #running: Run | undefined;
  /** The last update started, for `checkNow()` to tell whether its check started one. */
  #lastRun: Run | undefined;
  /** The newest order that arrived while another ran. */
  #pending: { manifest: Manifest; address: string } | undefined;
  #started = false;

  constructor(options: DeviceAgentOptions<Target>) {
    super();
    this.#options = options;
    this.id = options.id;
    this.protocol = options.protocol;
    this.target = parseWith(options.protocol.targetSchema, options.target, `${options.protocol.name} target`);
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? noopLogger;
    this.#random = options.random ?? Math.random;
    this.machine = new DeviceUpdateMachine({
      ...options.machine,
      id: options.id,
      store: options.store,
      clock: this.#clock,
      logger: this.#logger,
      hooks: {
        ...options.hooks,
        report: (context) => this.#report(context.status, options.hooks.report, context),
      },
    });
    this.machine.on('transition', (event) => this.emit('transition', event));
    this.machine.on('progress', (event) => this.emit('progress', event));
    this.machine.on('report', (event) => this.emit('report', event));
    this.machine.on('error', (error) => this.#raise(error));
    for (const source of options.protocol.device.orderSources(this.target)) {
      if (this.#channel(source.channel) === undefined) {
        throw new OtaError(
          'CONFIG',
          `${options.protocol.name} takes orders over ${source.channel}: give the agent a "${source.channel}" channel`,
        );
      }
    }
  }

  /** Whether `start()` ran and `stop()` did not. */
  get running(): boolean {
    return this.#started;
  }

  /** The update this device runs (committed), or `null`. */
  get current(): UpdateRef | null {
    return this.machine.snapshot().current;
  }

  /**
   * Starts the agent: finishes whatever a restart interrupted (`machine.resume()`), tells the
   * platform what the device runs (the protocol's boot report), subscribes to the order sources,
   * starts the polls and fetches the current order. Resolves once all of that is set up; an
   * update it triggers runs on. Rejects (and stops) when the store or a subscription fails.
   */
  async start(options: StartOptions = {}): Promise<void> {
    if (this.#started) throw new OtaError('STATE', `Agent "${this.id}" is already started`);
    this.#started = true;
    const lifetime = new AbortController();
    this.#lifetime = lifetime;
    options.signal?.addEventListener('abort', () => void this.stop(), { once: true });
    try {
      const record = (await this.#options.store.get(agentStoreKey(this.id))) as AgentRecord | undefined;
      this.#memory = record?.format === 'otakit.agent/1' ? (record.memory ?? undefined) : undefined;
      // A resume that throws (the store cannot be read, the recover hook failed) fails the
      // start: an agent that cannot read its state must not report, subscribe and take orders.
      await this.#run(RESUME, () => this.machine.resume({ signal: lifetime.signal }), { rethrow: true });
      await this.#sendAll(
        this.protocol.device.bootReport(this.current, { target: this.target, current: this.current }),
        'boot report',
      );
      for (const source of this.protocol.device.orderSources(this.target)) {
        if (source.channel === 'http') {
          const channel = this.#requireChannel('http');
          this.#loops.push(
            runPollLoop({
              ...this.#options.poll,
              channel,
              request: source.request,
              clock: this.#clock,
              random: this.#random,
              signal: lifetime.signal,
              // An answer that does not decode (a 401, a 503 page) is a failed poll: the loop
              // reports it and backs off, instead of asking again at once.
              onAnswer: (message) => this.#receive(message, { rethrow: true, raise: false }),
              onError: (error) => this.#raise(error),
            }),
          );
        } else {
          const channel = this.#requireChannel(source.channel);
          if (channel.listen === undefined) {
            throw new OtaError('CONFIG', `The ${source.channel} channel cannot listen`);
          }
          this.#listeners.push(await channel.listen(source, (message) => void this.#receive(message)));
        }
      }
      if (this.#options.fetchOrder !== undefined) await this.#fetch(lifetime.signal);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Stops taking orders: unsubscribes, ends the polls, and waits for the running update (or
   * cancels it with `{ cancel: true }`). The channels stay open: they are the caller's.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#pending = undefined;
    this.#lifetime?.abort();
    const listeners = this.#listeners.splice(0);
    await Promise.all(listeners.map((stop) => stop().catch(() => {})));
    await Promise.all(this.#loops.splice(0));
    if (options.cancel) await this.machine.cancel('Agent stopped');
    await this.#running?.done;
  }

  /**
   * Asks for the current order now (the HTTP order sources once, or `fetchOrder`) and runs what
   * it finds. Resolves with the outcome of the update it started, or `null` when there was none.
   * Rejects with a typed error when the platform could not be asked (a `TransportError`).
   */
  async checkNow(options: { signal?: AbortSignal } = {}): Promise<UpdateOutcome | null> {
    const before = this.#lastRun;
    await this.#fetch(options.signal ?? new AbortController().signal);
    const started = this.#lastRun;
    return started === before || started === undefined ? null : started.done;
  }

  /** Runs `manifest` now (an order that was not approved, or one from elsewhere). */
  async apply(manifest: Manifest): Promise<UpdateOutcome> {
    if (this.#running !== undefined) {
      throw new OtaError('STATE', `Agent "${this.id}" is running update "${this.#running.id}"`);
    }
    const outcome = await this.#run(manifest.id, () =>
      this.machine.apply(manifest, { signal: this.#lifetime?.signal ?? new AbortController().signal }),
    );
    if (outcome === null)
      throw new OtaError('STATE', `Agent "${this.id}" could not run update "${manifest.id}"`);
    return outcome;
  }

  /** Cancels the running update (reported as canceled). Resolves `false` when none ran. */
  cancel(reason?: string): Promise<boolean> {
    return this.machine.cancel(reason);
  }

  /** Fetches the current order: `fetchOrder`, or each HTTP order source once. */
  async #fetch(signal: AbortSignal): Promise<void> {
    const messages: InboundMessage[] = [];
    if (this.#options.fetchOrder !== undefined) {
      messages.push(...(await this.#options.fetchOrder(signal)));
    } else {
      for (const source of this.protocol.device.orderSources(this.target)) {
        if (source.channel === 'http')
          messages.push(await pollOnce(this.#requireChannel('http'), source.request, undefined, signal));
      }
    }
    for (const message of messages) await this.#receive(message, { rethrow: true });
  }

  /**
   * Decodes one message and acts on it. Decoding errors are `error` events (the agent runs on);
   * with `rethrow` (a `checkNow()`, a poll), they reject; `raise: false` leaves the event to the
   * caller (the poll loop raises what it catches).
   */
  #receive(message: InboundMessage, options: { rethrow?: boolean; raise?: boolean } = {}): Promise<void> {
    return this.#decodeQueue(async () => {
      try {
        const decoding = this.protocol.device.decodeOrder(message, {
          target: this.target,
          current: this.current,
          ...(this.#memory === undefined ? {} : { memory: this.#memory }),
        });
        if (decoding.memory !== undefined) {
          this.#memory = decoding.memory;
          const record: AgentRecord = { format: 'otakit.agent/1', memory: decoding.memory };
          await this.#options.store.put(agentStoreKey(this.id), record as unknown as JsonValue);
        }
        if (decoding.value === null) {
          this.#ignored('no_order', null, message.address);
          return;
        }
        this.emit('order', { manifest: decoding.value, lost: decoding.lost, address: message.address });
        await this.#take(decoding.value, message.address);
      } catch (error) {
        const failure = toOtaError(error, 'TRANSPORT', true);
        if (options.raise !== false) this.#raise(failure);
        if (options.rethrow) throw failure;
      }
    });
  }

  /** Runs an order now, or keeps it for when the running update ends. */
  async #take(manifest: Manifest, address: string): Promise<void> {
    const ref = { id: manifest.id, version: manifest.version };
    if (this.#running !== undefined) {
      if (this.#running.id === manifest.id) return this.#ignored('duplicate', ref, address);
      if (this.#pending !== undefined) {
        const old = this.#pending;
        this.#ignored('superseded', { id: old.manifest.id, version: old.manifest.version }, old.address);
      }
      this.#pending = { manifest, address };
      return;
    }
    const current = this.current;
    if (current !== null && current.id === manifest.id && current.version === manifest.version) {
      return this.#ignored('already_installed', ref, address);
    }
    if (this.#options.approve !== undefined && !(await this.#options.approve(manifest))) {
      return this.#ignored('not_approved', ref, address);
    }
    if (!this.#started) return;
    void this.#run(manifest.id, () =>
      this.machine.apply(manifest, { signal: this.#lifetime?.signal ?? new AbortController().signal }),
    );
  }

  /**
   * Runs one machine operation as "the running update": orders arriving meanwhile wait in
   * `#pending`, and the newest of them runs when it ends. What it throws is an `error` event, or
   * with `rethrow` the rejection.
   */
  async #run(
    id: string,
    operation: () => Promise<UpdateOutcome>,
    options: { rethrow?: boolean } = {},
  ): Promise<UpdateOutcome | null> {
    let finish!: (outcome: UpdateOutcome | null) => void;
    const done = new Promise<UpdateOutcome | null>((resolve) => {
      finish = resolve;
    });
    const run: Run = { id, done };
    this.#running = run;
    this.#lastRun = run;
    let result: UpdateOutcome | null = null;
    try {
      result = await operation();
      if (result.ignored === 'already_installed') {
        this.#ignored('already_installed', result.update, null);
      } else if (id !== RESUME || result.state !== 'idle') {
        this.emit('outcome', result);
      }
    } catch (error) {
      const failure = toOtaError(error, 'STATE');
      if (options.rethrow) throw failure;
      this.#raise(failure);
    } finally {
      this.#running = undefined;
      finish(result);
    }
    const next = this.#pending;
    this.#pending = undefined;
    if (next !== undefined && this.#started) await this.#take(next.manifest, next.address);
    return result;
  }

  /** The report hook: the protocol's messages for `status`, sent on their channels. */
  async #report(
    status: Parameters<NonNullable<UpdateHooks['report']>>[0]['status'],
    appReport: UpdateHooks['report'],
    context: Parameters<NonNullable<UpdateHooks['report']>>[0],
  ): Promise<void> {
    const messages = this.protocol.device.encodeStatus(status, {
      target: this.target,
      current: this.current,
    });
    await this.#sendAll(messages, `${status.state} status`, true);
    await appReport?.(context);
  }

  /**
   * Sends messages in order. An HTTP answer of 400 or more is a failure (a `TransportError`,
   * retryable for 5xx). With `rethrow` the first failure rejects (the machine then reports it as
   * a failed report); otherwise each is an `error` event.
   */
  async #sendAll(messages: WireMessage[], what: string, rethrow = false): Promise<void> {
    for (const message of messages) {
      try {
        const answer = await this.#requireChannel(message.channel).send(message);
        if (answer?.status !== undefined && answer.status >= 400) {
          throw new TransportError(`The platform refused the ${what} (HTTP ${answer.status})`, {
            retryable: answer.status >= 500,
          });
        }
      } catch (error) {
        const failure = toOtaError(error, 'TRANSPORT', true);
        if (rethrow) throw failure;
        this.#raise(failure);
      }
    }
  }

  #ignored(reason: IgnoredReason, update: UpdateRef | null, address: string | null): void {
    this.#logger.info('otakit agent: order ignored', { agent: this.id, reason, update: update?.id ?? null });
    this.emit('ignored', { reason, update, address });
  }

  #raise(error: OtaError): void {
    this.#logger.warn('otakit agent error', { agent: this.id, code: error.code, message: error.message });
    // An `error` event without listeners would throw (EventEmitter semantics in Node); here it must not.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #channel(kind: WireMessage['channel']): Channel | undefined {
    return this.#options.channels[kind];
  }

  #requireChannel(kind: WireMessage['channel']): Channel {
    const channel = this.#channel(kind);
    if (channel === undefined)
      throw new OtaError('CONFIG', `No "${kind}" channel was given to agent "${this.id}"`);
    return channel;
  }
}

/** Creates a {@link DeviceAgent}; see the module's example. */
export function createDeviceAgent<Target>(options: DeviceAgentOptions<Target>): DeviceAgent<Target> {
  return new DeviceAgent(options);
}
