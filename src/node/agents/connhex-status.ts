/**
 * What the Connhex agent says on `heartbeat.ota.service` beyond the update machine's own
 * transitions: the addon's `checking` around each `HEAD`, `check_failed` when it fails, the
 * resting word after a check that found nothing, `update_available` for a release that is only
 * announced (`auto_download = false`), and the periodic heartbeat that repeats the last status.
 * The generic agent runs checks outside the machine (its poll loop), so these words are the
 * preset's to send.
 *
 * @module
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { type OtaError, toOtaError } from '../../core/errors.js';
import type { UpdateState } from '../../core/states.js';
import type { UpdateRef, UpdateStatus } from '../../core/status.js';
import type { Manifest } from '../../manifest/schema.js';
import { device } from '../../protocols/connhex/device.js';
import { encodeStatusMessage, toWireStatus } from '../../protocols/connhex/status.js';
import { OTA_STATUS_SUBJECT } from '../../protocols/connhex/subjects.js';
import type { Target } from '../../protocols/connhex/target.js';
import type { InboundMessage, WireMessage } from '../../protocols/contract.js';
import type { Channel, ChannelSendOptions } from '../../transport/channel.js';

/** What the reporter reads from the agent it reports for. */
export interface ReporterHost {
  /** The update the device runs. */
  current(): UpdateRef | null;
  /** The update under way (the machine is not idle), or `null`. */
  underWay(): { state: UpdateState; update: UpdateRef | null } | null;
  /** A non-fatal problem (a heartbeat that could not be sent). */
  raise(error: OtaError): void;
}

export interface ReporterOptions {
  nats: Channel;
  target: Target;
  machineId: string;
  clock: Clock;
  heartbeatIntervalMs: number;
}

/** How one check ended, as the agent will read it. */
export type CheckResult =
  | { kind: 'failed'; error: OtaError }
  | { kind: 'nothing' }
  | { kind: 'release'; manifest: Manifest };

export class ConnhexReporter {
  /** The last status published (machine transitions and the reporter's own), repeated by the heartbeat. */
  #last: WireMessage | undefined;
  /** When the last check ended (RFC 3339). */
  #lastChecked: string | undefined;
  /** The version the last check found. */
  #latest: string | undefined;
  #timer: TimerHandle | undefined;
  #host: ReporterHost | undefined;
  readonly #options: ReporterOptions;

  constructor(options: ReporterOptions) {
    this.#options = options;
  }

  /** Binds the agent (created after the reporter, which it needs as a channel). */
  attach(host: ReporterHost): void {
    this.#host = host;
  }

  get lastChecked(): string | undefined {
    return this.#lastChecked;
  }

  /** The last status payload published, or `undefined`. */
  get last(): WireMessage | undefined {
    return this.#last;
  }

  /** The NATS channel the agent is given: every status it publishes becomes the heartbeat's. */
  recordingChannel(): Channel {
    const { nats } = this.#options;
    const channel: Channel = {
      kind: nats.kind,
      send: async (message: WireMessage, options?: ChannelSendOptions) => {
        if (message.address === OTA_STATUS_SUBJECT) this.#last = message;
        return nats.send(message, options);
      },
    };
    if (nats.listen !== undefined) channel.listen = nats.listen.bind(nats);
    return channel;
  }

  /**
   * `encodeStatus` for the agent's protocol: the addon's payload also carries `last_checked`,
   * which only the reporter knows.
   */
  encodeStatus = (
    status: UpdateStatus,
    context: Parameters<typeof device.encodeStatus>[1],
  ): WireMessage[] => {
    if (status.version !== null) this.#latest = status.version;
    return device.encodeStatus(status, {
      ...context,
      ...(this.#lastChecked === undefined ? {} : { lastChecked: this.#lastChecked }),
    });
  };

  /** Starts repeating the last status every `heartbeatIntervalMs`. */
  startHeartbeat(): void {
    this.stopHeartbeat();
    const { clock, heartbeatIntervalMs } = this.#options;
    const tick = () => {
      this.#timer = clock.setTimeout(tick, heartbeatIntervalMs);
      const last = this.#last;
      if (last !== undefined) void this.#publish(last);
    };
    this.#timer = clock.setTimeout(tick, heartbeatIntervalMs);
  }

  stopHeartbeat(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Before a `HEAD`: the addon says `checking` (not remembered: the check's end says what follows). */
  async checkStarted(): Promise<void> {
    const underWay = this.#host?.underWay() ?? null;
    const wire = this.#wire({
      state: 'checking',
      previous: underWay?.state ?? 'idle',
      version: underWay?.update?.version ?? null,
    });
    if (wire !== null) await this.#publish(wire);
  }

  /**
   * After a `HEAD`. While an update is under way the check is not news: its last status goes out
   * again. Otherwise a failure is `check_failed`, nothing new is the resting word (`updated` with
   * the installed version, or the template `checking` when nothing is known), and a release is
   * left to the agent (it runs it, or {@link announce} says `update_available`).
   */
  async checkEnded(result: CheckResult): Promise<void> {
    const at = new Date(this.#options.clock.now()).toISOString();
    this.#lastChecked = at;
    if (this.#host?.underWay() != null) {
      if (this.#last !== undefined) await this.#publish(this.#last);
      return;
    }
    if (result.kind === 'failed') {
      const wire = this.#wire(
        { state: 'check_failed', previous: 'checking', version: null, at },
        result.error.toJSON(),
      );
      if (wire !== null) await this.#publish(wire, { remember: true });
      return;
    }
    if (result.kind === 'release') {
      this.#latest = result.manifest.version;
      return;
    }
    const current = this.#host?.current() ?? null;
    if (current !== null) this.#latest = current.version ?? this.#latest;
    const rest = device.bootReport(current, { target: this.#options.target, current })[0];
    const resting =
      rest === undefined
        ? this.#wire({ state: 'checking', previous: 'idle', version: null })
        : {
            ...rest,
            payload: encodeStatusMessage({
              ...JSON.parse(rest.payload),
              last_checked: this.#lastChecked ?? '',
            }),
          };
    if (resting !== null) await this.#publish(resting, { remember: true });
  }

  /** `update_available` for a release the agent found and does not run (`auto_download = false`). */
  async announce(manifest: Manifest): Promise<void> {
    this.#latest = manifest.version;
    const wire = this.#wire({
      state: 'available',
      previous: 'checking',
      version: manifest.version,
      at: this.#lastChecked ?? new Date(this.#options.clock.now()).toISOString(),
    });
    if (wire !== null) await this.#publish(wire, { remember: true });
  }

  /** One payload from a canonical state, with what the reporter knows filled in. */
  #wire(
    status: { state: UpdateState; previous: UpdateState; version: string | null; at?: string },
    error?: ReturnType<OtaError['toJSON']>,
  ): WireMessage | null {
    const current = this.#host?.current() ?? null;
    const wire = toWireStatus(
      {
        state: status.state,
        previous: status.previous,
        version: status.version,
        at: status.at ?? new Date(this.#options.clock.now()).toISOString(),
        ...(error === undefined ? {} : { error }),
      },
      {
        currentVersion: current?.version ?? '',
        // Before any check, the installed version is the latest the device knows of.
        ...((this.#latest ?? current?.version) == null
          ? {}
          : { latestVersion: (this.#latest ?? current?.version)! }),
        ...(this.#lastChecked === undefined ? {} : { lastChecked: this.#lastChecked }),
      },
    );
    if (wire === null) return null;
    return { channel: 'nats', address: OTA_STATUS_SUBJECT, payload: encodeStatusMessage(wire) };
  }

  async #publish(message: WireMessage, options: { remember?: boolean } = {}): Promise<void> {
    if (options.remember) this.#last = message;
    try {
      await this.#options.nats.send(message);
    } catch (error) {
      this.#host?.raise(toOtaError(error, 'REPORT', true));
    }
  }
}

/**
 * The HTTP channel the agent is given: the order `HEAD` (and only it) is framed by the
 * reporter's `checking` and the word for how it ended, decoded exactly as the agent will decode it.
 */
export function checkingChannel(
  http: Channel,
  reporter: ConnhexReporter,
  options: {
    releaseUrl: string;
    decode(answer: InboundMessage): Manifest | null;
  },
): Channel {
  return {
    kind: http.kind,
    async send(message: WireMessage, sendOptions?: ChannelSendOptions) {
      const isCheck = message.method === 'HEAD' && message.address === options.releaseUrl;
      if (!isCheck) return http.send(message, sendOptions);
      await reporter.checkStarted();
      let answer: InboundMessage | undefined;
      try {
        answer = await http.send(message, sendOptions);
      } catch (error) {
        if (!sendOptions?.signal?.aborted) {
          await reporter.checkEnded({ kind: 'failed', error: toOtaError(error, 'TRANSPORT', true) });
        }
        throw error;
      }
      let result: CheckResult;
      try {
        const manifest = answer === undefined ? null : options.decode(answer);
        result = manifest === null ? { kind: 'nothing' } : { kind: 'release', manifest };
      } catch (error) {
        result = { kind: 'failed', error: toOtaError(error, 'CHECK', true) };
      }
      await reporter.checkEnded(result);
      return answer;
    },
  };
}
