/**
 * The devices of one Murano product as the local device-API service keeps them: each device's
 * identity, the digest of its token (the token itself is never stored), whether it may activate,
 * and its resources, each with what the platform **set** and what the device **reported**; plus
 * the journal of device writes the write feed serves. Everything is persisted in a
 * {@link StateStore} (a `FileStore` directory survives a restart of the service), one key per
 * device and one for the journal, written in order before a write is answered.
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FeedEvent, FeedPage } from '../../cloud/exosite/feed.js';
import { FEED_PAGE_LIMIT } from '../../cloud/exosite/feed.js';
import { OtaError } from '../../core/errors.js';
import type { JsonValue, StateStore } from '../../core/store.js';

/** One resource: the platform's value and the device's, with their times. */
export interface ResourceRecord {
  /** What the platform set (`config_otau`: the manifest string; `""` withdraws). */
  set?: string;
  /** When `set` changed, ms since the epoch, whole seconds apart (it becomes `Last-Modified`). */
  setAtMs?: number;
  /** What the device wrote last. */
  reported?: string;
  /** The last change of either, µs since the epoch. */
  timestamp: number;
}

/** One device of the product. */
export interface DeviceRecord {
  identity: string;
  /** SHA-256 of the token, hex; `null` until activated. */
  tokenDigest: string | null;
  /** Whether `/provision/activate` may hand out a token (once). */
  activationEnabled: boolean;
  resources: Record<string, ResourceRecord>;
}

/** A change of a resource's platform value: what long polls and the MQTT mirror wait for. */
export interface SetChange {
  identity: string;
  alias: string;
  value: string;
  atMs: number;
}

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const IDENTITY = /^[^/+#\u0000-\u001f\u007f]{1,128}$/;

/** @internal Throws `CONFIG` unless `identity` can address a device (URL segment, topic level). */
export function assertIdentity(identity: unknown): asserts identity is string {
  if (typeof identity !== 'string' || !IDENTITY.test(identity)) {
    throw new OtaError(
      'CONFIG',
      'Invalid Exosite identity: expected 1 to 128 characters, no "/", "+", "#" or control characters',
    );
  }
}

/** A fresh device token: 40 hex characters, as Murano's. */
export function newDeviceToken(): string {
  return randomBytes(20).toString('hex');
}

/** The devices, their resources and the journal of one product, persisted in a store. */
export class DeviceRegistry {
  readonly #store: StateStore;
  readonly #prefix: string;
  readonly #journalLimit: number;
  readonly #devices = new Map<string, DeviceRecord>();
  /** Token digest (hex) → identity: a lookup by digest never compares the token itself. */
  readonly #byDigest = new Map<string, string>();
  #journal: FeedEvent[] = [];
  #seq = 0;
  #saving: Promise<void> = Promise.resolve();
  readonly #setListeners = new Set<(change: SetChange) => void>();
  readonly #writeListeners = new Set<(event: FeedEvent) => void>();

  private constructor(store: StateStore, productId: string, journalLimit: number) {
    this.#store = store;
    this.#prefix = `exosite/${productId}`;
    this.#journalLimit = journalLimit;
  }

  /** The registry of `productId` as the store holds it (empty on a first start). */
  static async open(store: StateStore, productId: string, journalLimit: number): Promise<DeviceRegistry> {
    const registry = new DeviceRegistry(store, productId, journalLimit);
    const index = (await store.get(`${registry.#prefix}/index`)) as { identities?: string[] } | undefined;
    for (const identity of index?.identities ?? []) {
      const device = (await store.get(registry.#deviceKey(identity))) as DeviceRecord | undefined;
      if (device !== undefined) registry.#remember(device);
    }
    const journal = (await store.get(`${registry.#prefix}/journal`)) as
      | { seq: number; events: FeedEvent[] }
      | undefined;
    registry.#journal = journal?.events ?? [];
    registry.#seq = journal?.seq ?? 0;
    return registry;
  }

  /** Adds a device, or changes how it authenticates; its resources are kept. */
  async addDevice(identity: string, options: { token?: string; activationEnabled?: boolean }): Promise<void> {
    assertIdentity(identity);
    const existing = this.#devices.get(identity);
    const device: DeviceRecord = existing ?? {
      identity,
      tokenDigest: null,
      activationEnabled: true,
      resources: {},
    };
    if (options.token !== undefined) {
      if (device.tokenDigest !== null) this.#byDigest.delete(device.tokenDigest);
      device.tokenDigest = digestOf(options.token).toString('hex');
    }
    // A device already known keeps its activation unless told otherwise: a restart with the same
    // device list must not let an activated device activate again (and lose its token).
    if (options.activationEnabled !== undefined) device.activationEnabled = options.activationEnabled;
    else if (existing === undefined || options.token !== undefined)
      device.activationEnabled = options.token === undefined;
    this.#remember(device);
    await this.#save(async () => {
      await this.#putDevice(device);
      if (existing === undefined) {
        await this.#store.put(`${this.#prefix}/index`, { identities: [...this.#devices.keys()] });
      }
    });
  }

  has(identity: string): boolean {
    return this.#devices.has(identity);
  }

  identities(): string[] {
    return [...this.#devices.keys()];
  }

  /**
   * Activation: a token for a device enabled for it, once. `'unknown'` and `'refused'` are
   * `404` and `409` on the wire.
   */
  async activate(
    identity: string,
    issue: () => string = newDeviceToken,
  ): Promise<string | 'unknown' | 'refused'> {
    const device = this.#devices.get(identity);
    if (device === undefined) return 'unknown';
    if (!device.activationEnabled) return 'refused';
    const token = issue();
    device.tokenDigest = digestOf(token).toString('hex');
    device.activationEnabled = false;
    this.#remember(device);
    await this.#save(() => this.#putDevice(device));
    return token;
  }

  /** The identity `token` belongs to, or `undefined`. Compares digests in constant time. */
  authenticate(token: string | undefined): string | undefined {
    if (token === undefined || token === '') return undefined;
    const digest = digestOf(token);
    const identity = this.#byDigest.get(digest.toString('hex'));
    const device = identity === undefined ? undefined : this.#devices.get(identity);
    if (device?.tokenDigest == null) return undefined;
    return timingSafeEqual(digest, Buffer.from(device.tokenDigest, 'hex')) ? identity : undefined;
  }

  /** A device's resource, or `undefined`. */
  resource(identity: string, alias: string): ResourceRecord | undefined {
    const found = this.#devices.get(identity)?.resources[alias];
    return found === undefined ? undefined : { ...found };
  }

  /** A device's resources, as the management API shows them: alias → `{ set, reported, timestamp }`. */
  state(
    identity: string,
  ): Record<string, { set?: string; reported?: string; timestamp: number }> | undefined {
    const device = this.#devices.get(identity);
    if (device === undefined) return undefined;
    const state: Record<string, { set?: string; reported?: string; timestamp: number }> = {};
    for (const [alias, { set, reported, timestamp }] of Object.entries(device.resources)) {
      state[alias] = {
        ...(set === undefined ? {} : { set }),
        ...(reported === undefined ? {} : { reported }),
        timestamp,
      };
    }
    return state;
  }

  /**
   * The platform writes `alias`: its `set` value changes, with a `Last-Modified` at least one
   * second after the previous one (HTTP dates have whole seconds: two changes never share one).
   */
  async set(identity: string, alias: string, value: string): Promise<SetChange> {
    const device = this.#require(identity);
    const previous = device.resources[alias];
    const now = Date.now();
    const atMs = Math.max(now - (now % 1000), (previous?.setAtMs ?? 0) + 1000);
    device.resources[alias] = { ...previous, set: value, setAtMs: atMs, timestamp: now * 1000 };
    await this.#save(() => this.#putDevice(device));
    const change = { identity, alias, value, atMs };
    for (const listener of this.#setListeners) listener(change);
    return change;
  }

  /** The device writes `values`: each becomes its resource's `reported` value and a journal entry. */
  async report(identity: string, values: Readonly<Record<string, string>>): Promise<FeedEvent[]> {
    const device = this.#require(identity);
    const events: FeedEvent[] = [];
    for (const [alias, value] of Object.entries(values)) {
      // Strictly increasing, so two writes in one microsecond keep their order.
      const last = this.#journal.at(-1)?.timestamp ?? 0;
      const timestamp = Math.max(Date.now() * 1000, last + 1);
      device.resources[alias] = { ...device.resources[alias], reported: value, timestamp };
      const event: FeedEvent = { seq: ++this.#seq, identity, alias, value, timestamp };
      this.#journal.push(event);
      events.push(event);
    }
    if (this.#journal.length > this.#journalLimit) {
      this.#journal.splice(0, this.#journal.length - this.#journalLimit);
    }
    const journal = { seq: this.#seq, events: this.#journal };
    await this.#save(async () => {
      await this.#putDevice(device);
      await this.#store.put(`${this.#prefix}/journal`, journal as unknown as JsonValue);
    });
    for (const event of events) for (const listener of this.#writeListeners) listener(event);
    return events;
  }

  /** The writes after `after` (a page of at most `limit`), and whether some were dropped. */
  feed(after: number, limit = FEED_PAGE_LIMIT): FeedPage {
    const first = this.#journal[0]?.seq ?? this.#seq + 1;
    const events = this.#journal.filter((event) => event.seq > after).slice(0, limit);
    return {
      events: events.map((event) => ({ ...event })),
      next: events.at(-1)?.seq ?? Math.max(after, 0),
      gap: after < first - 1,
    };
  }

  /** The last write's position (0 before any). */
  get position(): number {
    return this.#seq;
  }

  onSet(listener: (change: SetChange) => void): () => void {
    this.#setListeners.add(listener);
    return () => this.#setListeners.delete(listener);
  }

  onWrite(listener: (event: FeedEvent) => void): () => void {
    this.#writeListeners.add(listener);
    return () => this.#writeListeners.delete(listener);
  }

  /** Resolves once every write so far is in the store. */
  flushed(): Promise<void> {
    return this.#saving;
  }

  #require(identity: string): DeviceRecord {
    const device = this.#devices.get(identity);
    if (device === undefined) throw new OtaError('CONFIG', 'Unknown Exosite device identity');
    return device;
  }

  #remember(device: DeviceRecord): void {
    this.#devices.set(device.identity, device);
    if (device.tokenDigest !== null) this.#byDigest.set(device.tokenDigest, device.identity);
  }

  #deviceKey(identity: string): string {
    return `${this.#prefix}/device/${identity}`;
  }

  #putDevice(device: DeviceRecord): Promise<void> {
    return this.#store.put(this.#deviceKey(device.identity), structuredClone(device) as unknown as JsonValue);
  }

  /** Store writes one after another, in the order of the changes (a failed one fails its caller). */
  #save(write: () => Promise<void>): Promise<void> {
    const next = this.#saving.then(write);
    this.#saving = next.catch(() => {});
    return next;
  }
}
