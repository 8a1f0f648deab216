/**
 * What a fleet simulator is made of: the protocol, the devices and their channels, and the faults
 * and timings to play. Every default is in {@link DEFAULTS}, in one place.
 *
 * @module
 */
import type { Clock } from '../../core/clock.js';
import type { UpdateRef } from '../../core/status.js';
import type { PollOptions } from '../../device/poll-loop.js';
import type { Artifact } from '../../manifest/schema.js';
import type { InboundMessage, Protocol, WireMessage } from '../../protocols/contract.js';
import type { Channels } from '../../transport/channel.js';
import type { MsRange } from './random.js';

/**
 * How a device fails an update:
 * - `download_failed`, `verify_failed`, `install_failed`: that step fails and the device reports
 *   the failure (`available` … `downloading` → `download_failed`, then `idle`);
 * - `rolled_back`: the install succeeds, the health check after it fails, the device rolls back
 *   (`installed` → `rolling_back` → `rolled_back`);
 * - `silent`: the device never answers: it hears orders (they are counted) but sends nothing at
 *   all, no boot report, no status, and installs nothing. For timeout and abort-threshold tests.
 */
export type FailureKind = 'download_failed' | 'verify_failed' | 'install_failed' | 'rolled_back' | 'silent';

/** Which devices fail, and how. The first rule that picks a device decides for it. */
export interface FailureRule {
  kind: FailureKind;
  /** These devices fail (by id). */
  devices?: readonly string[];
  /**
   * The fraction (0 to 1) of the devices not named in any rule that fail this way, drawn with the
   * simulator's `random` when the simulator is created: the same seed picks the same devices.
   * @default 0
   */
  rate?: number;
  /**
   * How many update attempts of each picked device fail; the attempts after them succeed (a
   * retried order, a flaky device). Ignored for `silent`, which never answers.
   * @default Infinity (every attempt)
   */
  attempts?: number;
}

/**
 * The steps of an update that take time, each the time spent in one state before the next:
 * `accept` (`available` → `downloading`), `download` (`downloading` → `downloaded`; with
 * `download: fetch`, added to the real transfer), `verify` (`verifying` → `installing`),
 * `install` (`installing` → `installed`), `healthCheck` (`installed` → `committed`, or the
 * failure that starts a rollback), `rollback` (`rolling_back` → `rolled_back`), and `reboot`
 * (how long a device that reboots during its install stays quiet).
 */
export type SimulatedStep =
  | 'accept'
  | 'download'
  | 'verify'
  | 'install'
  | 'healthCheck'
  | 'rollback'
  | 'reboot';

/** How artifacts are "downloaded". */
export type DownloadOptions<Target = unknown> = SimulatedDownload | FetchedDownload<Target>;

/** Nothing is transferred: the download takes its `latency.download` and succeeds. */
export interface SimulatedDownload {
  mode: 'simulate';
}

/**
 * Each artifact is fetched over HTTP and checked against the order: its SHA-256 when the order
 * carries one, else its MD5, and its size when known. A mismatch is a `download_failed` with an
 * `INTEGRITY` error (the real agents' download engine checks digests as the bytes stream); an
 * HTTP error or a refused connection is a `download_failed` with a `TRANSPORT` error. The bytes
 * are hashed as they arrive and never kept.
 */
export interface FetchedDownload<Target = unknown> {
  mode: 'fetch';
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /**
   * The request for one artifact of one device: what the platform's agent adds on the wire (a
   * device key in the query, an `Authorization` header, the device API's base for a relative
   * URL).
   * @default the artifact's URL, no headers
   * @example
   * ```ts
   * // Connhex: the thing key in Authorization
   * request: (artifact, device) => ({ url: artifact.url, headers: { authorization: `Thing ${device.target.key}` } })
   * ```
   */
  request?: (artifact: Artifact, device: { id: string; target: Target }) => ArtifactRequest;
  /**
   * Attempts per artifact before the download fails (no delay between them).
   * @default 1
   */
  attempts?: number;
}

/** One artifact request. */
export interface ArtifactRequest {
  url: string;
  headers?: Readonly<Record<string, string>>;
}

/** One simulated device. */
export interface FleetDeviceSpec<Target> {
  /** Its id: the `machineId` of its statuses, and its key in every introspection call. */
  id: string;
  /** Addresses it on the platform (validated with `protocol.targetSchema` at creation). */
  target: Target;
  /**
   * Channels of this device only, over the shared `channels` kind by kind: where a platform needs
   * one connection per device (ThingsBoard's MQTT session per access token, a NATS account per
   * Connhex edge, an HTTP channel carrying one Exosite device's token).
   */
  channels?: Channels;
  /** What it runs before any order (over the simulator's `installed`). */
  installed?: UpdateRef | null;
}

export interface FleetSimulatorOptions<Target> {
  /** The platform's protocol; its `device` side decodes every order and encodes every status. */
  protocol: Protocol<string, string | number, Target>;
  /** The devices. Ids must be unique. */
  devices: readonly FleetDeviceSpec<Target>[];
  /**
   * Channels shared by every device, by kind (one MQTT connection for a whole insigh.io or Degu
   * fleet, one HTTP channel for micropython_ota); a device's own `channels` win.
   */
  channels?: Channels;
  /**
   * What a device runs before any order, for the devices that do not say: an update ref, or a
   * function of the device.
   * @default null (nothing installed: every order is new)
   */
  installed?: UpdateRef | null | ((device: { id: string; target: Target }) => UpdateRef | null);
  /** Devices that fail their updates, and how. @default none */
  failures?: FailureRule | readonly FailureRule[];
  /** Time spent in each step, in ms (on `clock`). @default 0 for every step */
  latency?: Partial<Record<SimulatedStep, MsRange>>;
  /**
   * Reboots during the install: the device goes quiet for `latency.reboot` (it unsubscribes and
   * stops polling), then comes back, finishes the update (`committed`, or the rollback of a
   * failed health check), listens again and sends its boot report, as a real agent resumes after
   * a restart.
   * @default none
   */
  reboots?: {
    /** Probability (0 to 1) that an install attempt reboots. @default 0 */
    rate?: number;
    /** Devices whose every install reboots. */
    devices?: readonly string[];
  };
  /**
   * Offline periods during updates: at every step, with probability `rate`, the device drops off
   * for `durationMs` (see `setOffline()` for what offline means).
   * @default none
   */
  offline?: {
    rate: number;
    durationMs: MsRange;
  };
  /** How artifacts are downloaded. @default { mode: 'simulate' } */
  download?: DownloadOptions<Target>;
  /**
   * How HTTP order sources are polled (micropython_ota, Connhex, Exosite): the device agent's own
   * poll loop, so intervals, jitter, long polls and backoff are the real ones.
   * @default the agent's defaults (every 60 s, 10 % jitter)
   */
  poll?: PollOptions;
  /**
   * Replies a device sends on receiving an order message, before decoding it: Exosite's
   * acknowledgement (the `config_otau` value written back, `exosite.acknowledgeOrder`), which the
   * contract's `decodeOrder` has no place for. A reply identical to the device's last one is not
   * sent again (an echo that woke a long poll would feed itself).
   * @default none
   */
  acknowledge?: (message: InboundMessage, target: Target) => WireMessage[];
  /**
   * What a device does with an order for the update it already runs (a retained order whose
   * clear was lost, an order published again): `ignore` it, as `createDeviceAgent` does, or
   * `confirm` it, reporting `committed` again, as `createInsighioAgent` does so the console hears
   * the outcome and the retained order is cleared. Either way nothing is installed twice.
   * @default 'ignore'
   */
  replays?: 'ignore' | 'confirm';
  /** @default systemClock */
  clock?: Clock;
  /** Random source of faults, latencies and poll jitter (`seededRandom(seed)` to repeat a run). @default Math.random */
  random?: () => number;
  /**
   * How many devices subscribe and send their boot report at once in `start()` (each a broker
   * round trip on a shared connection).
   * @default 64
   */
  startConcurrency?: number;
}

export const DEFAULTS = {
  download: { mode: 'simulate' } as SimulatedDownload,
  fetchAttempts: 1,
  startConcurrency: 64,
} as const;
