/**
 * A real ThingsBoard server through its REST API, as the publisher's backend. ThingsBoard takes a
 * device's shared attributes at `POST /api/plugins/telemetry/DEVICE/{deviceId}/SHARED_SCOPE` and
 * pushes them to the device's MQTT session; it deletes them at `DELETE …/SHARED_SCOPE?keys=…`; the
 * device's latest telemetry is at `GET …/values/timeseries?keys=…`. Every call carries a user's
 * JWT in `X-Authorization: Bearer …`, from `POST /api/auth/login` or given by the caller.
 *
 * Plain `fetch`: runs in Node and in a browser. The JWT and the password never appear in an error
 * message or a log line.
 *
 * @example
 * ```ts
 * const rest = createThingsBoardRestClient({
 *   baseUrl: 'https://tb.example.com',
 *   auth: { username: 'tenant@example.com', password: process.env.TB_PASSWORD! },
 * })
 * await rest.saveSharedAttributes(deviceId, { fw_title: 'app', fw_version: '1.1', … })
 * ```
 *
 * @module
 */
import { abortReason } from '../../core/abort.js';
import { OtaError, TransportError } from '../../core/errors.js';
import type { JsonValue } from '../../core/store.js';
import type { InboundMessage } from '../../protocols/contract.js';
import { TELEMETRY_TOPIC } from '../../protocols/thingsboard/topics.js';
import type { BackendCallOptions, ThingsBoardBackend } from './backend.js';
import { latestToTelemetry } from './latest-telemetry.js';

/** How the client authenticates: a JWT you obtained, or a user it logs in as (again on 401). */
export type ThingsBoardAuth =
  | { token: string }
  | { username: string; password: string }
  | { getToken: () => Promise<string> };

export interface ThingsBoardRestClientOptions {
  /** The server, e.g. `https://tb.example.com` (no trailing path). */
  baseUrl: string;
  auth: ThingsBoardAuth;
  /** Time for one request, in ms. @default 30000 */
  timeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** ThingsBoard's entity ids are UUIDs; anything else would change the path. */
const DEVICE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkDeviceId(deviceId: unknown): string {
  if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) {
    throw new OtaError('CONFIG', 'deviceId must be a ThingsBoard device id (a UUID)');
  }
  return deviceId;
}

function checkBaseUrl(baseUrl: unknown): string {
  if (typeof baseUrl !== 'string' || !/^https?:\/\/[^\s/?#]+(?::\d+)?\/?$/i.test(baseUrl)) {
    throw new OtaError(
      'CONFIG',
      'baseUrl must be the http(s) address of the ThingsBoard server, without a path',
    );
  }
  return baseUrl.replace(/\/+$/, '');
}

function checkAuth(auth: ThingsBoardAuth | undefined): ThingsBoardAuth {
  const ok =
    auth !== undefined &&
    (('token' in auth && typeof auth.token === 'string' && auth.token.length > 0) ||
      ('getToken' in auth && typeof auth.getToken === 'function') ||
      ('username' in auth && typeof auth.username === 'string' && typeof auth.password === 'string'));
  if (!ok) throw new OtaError('CONFIG', 'auth must be { token }, { username, password } or { getToken }');
  return auth;
}

/** Whether a refused request may succeed later as it is. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** A ThingsBoard server's REST API: the publisher's backend for a real deployment. */
export class ThingsBoardRestClient implements ThingsBoardBackend {
  readonly baseUrl: string;
  readonly #auth: ThingsBoardAuth;
  readonly #timeoutMs: number;
  readonly #fetch: typeof globalThis.fetch;
  #jwt: Promise<string> | undefined;

  constructor(options: ThingsBoardRestClientOptions) {
    this.baseUrl = checkBaseUrl(options?.baseUrl);
    this.#auth = checkAuth(options.auth);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async saveSharedAttributes(
    deviceId: string,
    attributes: Readonly<Record<string, JsonValue>>,
    options: BackendCallOptions = {},
  ): Promise<void> {
    const path = `/api/plugins/telemetry/DEVICE/${checkDeviceId(deviceId)}/SHARED_SCOPE`;
    await this.#request('POST', path, JSON.stringify(attributes), options.signal);
  }

  async deleteSharedAttributes(
    deviceId: string,
    keys: readonly string[],
    options: BackendCallOptions = {},
  ): Promise<void> {
    const query = new URLSearchParams({ keys: keys.join(',') });
    const path = `/api/plugins/telemetry/DEVICE/${checkDeviceId(deviceId)}/SHARED_SCOPE?${query}`;
    await this.#request('DELETE', path, undefined, options.signal);
  }

  async latestTelemetry(
    deviceId: string,
    keys: readonly string[],
    options: BackendCallOptions = {},
  ): Promise<InboundMessage | null> {
    const query = new URLSearchParams({ keys: keys.join(',') });
    const path = `/api/plugins/telemetry/DEVICE/${checkDeviceId(deviceId)}/values/timeseries?${query}`;
    const text = await this.#request('GET', path, undefined, options.signal);
    const telemetry = latestToTelemetry(text);
    // Given to the protocol's decodeStatus as what the device posted on its telemetry topic.
    return telemetry === null ? null : { address: TELEMETRY_TOPIC, payload: JSON.stringify(telemetry) };
  }

  /**
   * Logs in with the configured user and keeps the JWT (`POST /api/auth/login`).
   * @throws TransportError (not retryable, status 401) when ThingsBoard refuses the credentials.
   */
  async login(signal?: AbortSignal): Promise<string> {
    const auth = this.#auth;
    if (!('username' in auth)) throw new OtaError('CONFIG', 'login() needs auth { username, password }');
    const body = JSON.stringify({ username: auth.username, password: auth.password });
    const text = await this.#exchange('POST', '/api/auth/login', body, undefined, signal);
    let token: unknown;
    try {
      token = (JSON.parse(text) as { token?: unknown }).token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token.length === 0) {
      throw new TransportError('ThingsBoard POST /api/auth/login answered without a token', {
        retryable: false,
      });
    }
    return token;
  }

  /** One authenticated call; on a 401, a new JWT (when the client can get one) and one more try. */
  async #request(
    method: string,
    path: string,
    body: string | undefined,
    signal?: AbortSignal,
  ): Promise<string> {
    const jwt = await this.#token(signal);
    try {
      return await this.#exchange(method, path, body, jwt, signal);
    } catch (error) {
      if (!(error instanceof TransportError) || error.status !== 401 || 'token' in this.#auth) throw error;
      this.#jwt = undefined;
      return this.#exchange(method, path, body, await this.#token(signal), signal);
    }
  }

  #token(signal?: AbortSignal): Promise<string> {
    const auth = this.#auth;
    if ('token' in auth) return Promise.resolve(auth.token);
    if (this.#jwt === undefined) {
      const pending = 'getToken' in auth ? auth.getToken() : this.login(signal);
      this.#jwt = pending;
      // A failed login is not kept: the next call tries again.
      pending.catch(() => {
        if (this.#jwt === pending) this.#jwt = undefined;
      });
    }
    return this.#jwt;
  }

  async #exchange(
    method: string,
    path: string,
    body: string | undefined,
    jwt: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const shown = `${method} ${path.split('?')[0]}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (jwt !== undefined) headers['x-authorization'] = `Bearer ${jwt}`;
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
        ...(body === undefined ? {} : { body }),
      });
    } catch (cause) {
      if (signal?.aborted) throw abortReason(signal);
      const why = timeout.aborted ? `no answer within ${this.#timeoutMs} ms` : 'the request failed';
      throw new TransportError(`ThingsBoard ${shown}: ${why}`, { cause, retryable: true });
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      throw new TransportError(
        `ThingsBoard ${shown} was refused (HTTP ${response.status}${response.status === 401 ? ': the JWT or the credentials' : ''})`,
        { status: response.status, retryable: retryableStatus(response.status) },
      );
    }
    return text;
  }
}

/** Creates a {@link ThingsBoardRestClient}. */
export function createThingsBoardRestClient(options: ThingsBoardRestClientOptions): ThingsBoardRestClient {
  return new ThingsBoardRestClient(options);
}
