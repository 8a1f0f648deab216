/**
 * The AWS IoT Device Shadow REST API on ky: `GET`, `POST` and `DELETE`
 * `https://<endpoint>/things/<thing>/shadow[?name=<shadow>]`, and `ListNamedShadowsForThing`,
 * with the same typed errors as the MQTT client (a refusal is a {@link ShadowRejectedError} with
 * the AWS code and message of the error document the service answers with) and the same 409
 * rule (a versioned update that conflicts reads the shadow afresh and tries once more).
 *
 * Authentication is the caller's: AWS takes a client certificate (pass a `fetch` with it, e.g.
 * `otakit/node`'s `createNodeFetch`), a SigV4 signature of service `iotdevicegateway` (sign in
 * `signRequest`), or a custom authorizer's headers (`headers`). None of it appears in an error.
 *
 * @example
 * ```ts
 * import { createShadowHttpClient } from 'otakit'
 *
 * const shadow = createShadowHttpClient({
 *   endpoint: 'https://abc123-ats.iot.eu-west-1.amazonaws.com',
 *   thingName: 'gw-7',
 *   signRequest: (request) => signer.sign(request), // SigV4, or a client certificate in `fetch`
 * })
 * const { state } = await shadow.get()
 * ```
 *
 * @module
 */

import * as z from 'zod';
import { abortReason } from '../../core/abort.js';
import { ManifestError, TimeoutError, TransportError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { decodeShadowMessage } from '../../protocols/degu/decode.js';
import { LIMITS } from '../../protocols/degu/limits.js';
import {
  type ShadowDeleteAccepted,
  type ShadowGetAccepted,
  ShadowRequestSchema,
  type ShadowUpdateAccepted,
} from '../../protocols/degu/shadow-schemas.js';
import { listNamedShadowsPath, type RestPathOptions, shadowRestPath } from '../../protocols/degu/topics.js';
import { bodyReader } from '../body-reader.js';
import { loadKy } from '../load-ky.js';
import { updateWithConflictRetry } from './conflict.js';
import { describeShadow, ShadowRejectedError } from './errors.js';
import type {
  ShadowAddress,
  ShadowOperation,
  ShadowOperations,
  ShadowRequestOptions,
  ShadowRequestState,
  ShadowUpdateOptions,
} from './types.js';

export interface ShadowHttpClientOptions {
  /**
   * The account's data endpoint, `https://<prefix>-ats.iot.<region>.amazonaws.com` (any base URL
   * for a self-hosted service).
   */
  endpoint: string;
  /** The AWS IoT thing. */
  thingName: string;
  /** A named shadow; absent for the classic shadow. */
  shadowName?: string;
  /** Headers of every request (a custom authorizer's token…). Never printed. */
  headers?: Readonly<Record<string, string>>;
  /**
   * Signs each request before it is sent (SigV4 with service `iotdevicegateway`): return the
   * signed request, or nothing after changing its headers in place.
   */
  signRequest?: (request: Request) => Request | undefined | Promise<Request | undefined>;
  /**
   * Time for one exchange, in ms.
   * @default 10000
   */
  timeoutMs?: number;
  /** @default globalThis.fetch (pass one with a client certificate for mutual TLS) */
  fetch?: typeof globalThis.fetch;
}

/** One page of `ListNamedShadowsForThing`. */
export interface NamedShadowPage {
  results: string[];
  /** Pass it back for the next page; absent on the last. */
  nextToken?: string;
  timestamp: number;
}

const NamedShadowPageSchema = z.looseObject({
  results: z.array(z.string()),
  nextToken: z.string().optional(),
  timestamp: z.number().int().nonnegative(),
});

export interface ShadowHttpClient extends ShadowOperations {
  /** One page of the names of this thing's named shadows. */
  listNamedShadows(options?: RestPathOptions & ShadowRequestOptions): Promise<NamedShadowPage>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Shadow documents are at most 8 KB of state plus metadata; an answer beyond this is not one. */
const MAX_BODY_BYTES = LIMITS.messageBytes;

const METHODS: Record<ShadowOperation, 'GET' | 'POST' | 'DELETE'> = {
  get: 'GET',
  update: 'POST',
  delete: 'DELETE',
};

/** What a `fetch` failure was, without the URL or headers it may quote. */
function describeFailure(cause: unknown): string {
  const inner = (cause as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof inner === 'string' ? inner : cause instanceof Error ? cause.name : 'network error';
}

async function readBody(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = bodyReader(response.body, 16 * 1024);
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (let chunk = await reader.read(); chunk !== undefined; chunk = await reader.read()) {
    length += chunk.byteLength;
    if (length > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new TransportError(`Shadow REST answer over ${MAX_BODY_BYTES} bytes`, { retryable: false });
    }
    chunks.push(chunk.slice());
  }
  const body = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(body);
}

class HttpShadowClient implements ShadowHttpClient {
  readonly address: ShadowAddress;
  readonly #options: ShadowHttpClientOptions;
  readonly #base: URL;
  readonly #timeoutMs: number;

  constructor(options: ShadowHttpClientOptions) {
    this.#options = options;
    this.address =
      options.shadowName === undefined
        ? { thingName: options.thingName }
        : { thingName: options.thingName, shadowName: options.shadowName };
    // Validates the names (a "/" or "?" in one would address another resource).
    shadowRestPath(this.address);
    try {
      this.#base = new URL(options.endpoint);
      if (this.#base.protocol !== 'https:' && this.#base.protocol !== 'http:') throw new Error('scheme');
    } catch {
      throw new ManifestError('shadow REST client options', [
        {
          path: 'endpoint',
          expected: 'an absolute http(s) URL, e.g. https://<prefix>-ats.iot.<region>.amazonaws.com',
        },
      ]);
    }
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(Number.isFinite(this.#timeoutMs) && this.#timeoutMs > 0)) {
      throw new ManifestError('shadow REST client options', [
        { path: 'timeoutMs', expected: 'a positive number' },
      ]);
    }
  }

  async get(options: ShadowRequestOptions = {}): Promise<ShadowGetAccepted> {
    const text = await this.#exchange('get', shadowRestPath(this.address), undefined, options);
    return decodeShadowMessage('get/accepted', text);
  }

  update(state: ShadowRequestState, options: ShadowUpdateOptions = {}): Promise<ShadowUpdateAccepted> {
    return updateWithConflictRetry(
      state,
      options,
      async ({ state: attemptState, version }) => {
        const body = version === undefined ? { state: attemptState } : { state: attemptState, version };
        parseWith(ShadowRequestSchema, body, 'shadow update request');
        const text = await this.#exchange(
          'update',
          shadowRestPath(this.address),
          JSON.stringify(body),
          options,
        );
        return decodeShadowMessage('update/accepted', text);
      },
      (getOptions) => this.get(getOptions),
    );
  }

  async delete(options: ShadowRequestOptions = {}): Promise<ShadowDeleteAccepted> {
    const text = await this.#exchange('delete', shadowRestPath(this.address), undefined, options);
    return decodeShadowMessage('delete/accepted', text);
  }

  async listNamedShadows(options: RestPathOptions & ShadowRequestOptions = {}): Promise<NamedShadowPage> {
    const paging: RestPathOptions = {};
    if (options.nextToken !== undefined) paging.nextToken = options.nextToken;
    if (options.pageSize !== undefined) paging.pageSize = options.pageSize;
    const text = await this.#exchange(
      'get',
      listNamedShadowsPath(this.address.thingName, paging),
      undefined,
      options,
    );
    const page = parseWith(
      NamedShadowPageSchema,
      JSON.parse(text) as unknown,
      'ListNamedShadowsForThing answer',
    );
    return {
      results: page.results,
      timestamp: page.timestamp,
      ...(page.nextToken === undefined ? {} : { nextToken: page.nextToken }),
    };
  }

  /** One request; resolves with the body of a 2xx, throws the typed error of anything else. */
  async #exchange(
    operation: ShadowOperation,
    path: string,
    body: string | undefined,
    options: ShadowRequestOptions,
  ): Promise<string> {
    if (options.signal?.aborted) throw abortReason(options.signal);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
    const what = `Shadow ${operation} of ${describeShadow(this.address)}`;
    const url = new URL(
      path.replace(/^\//, ''),
      this.#base.href.endsWith('/') ? this.#base : `${this.#base.href}/`,
    );
    const sign = this.#options.signRequest;
    let response: Response;
    let text: string;
    try {
      response = await (await loadKy())(url, {
        method: METHODS[operation],
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...this.#options.headers,
        },
        ...(body === undefined ? {} : { body }),
        signal,
        retry: 0,
        timeout: false,
        throwHttpErrors: false,
        ...(this.#options.fetch === undefined ? {} : { fetch: this.#options.fetch }),
        ...(sign === undefined ? {} : { hooks: { beforeRequest: [(request: Request) => sign(request)] } }),
      });
      text = await readBody(response);
    } catch (cause) {
      if (options.signal?.aborted) throw abortReason(options.signal);
      if (timeout.aborted) throw new TimeoutError(what, timeoutMs, { cause });
      if (cause instanceof TransportError) throw cause;
      throw new TransportError(`${what} failed: ${describeFailure(cause)}`, { cause });
    }
    if (response.ok) return text;
    let error: { code: number; message: string; clientToken?: string | undefined };
    try {
      error = decodeShadowMessage('rejected', text);
    } catch {
      // Not an AWS error document (a proxy's page, an empty body): the HTTP status is all there is.
      error = { code: response.status, message: `HTTP ${response.status} without a shadow error document` };
    }
    throw new ShadowRejectedError(operation, this.address, { ...error, code: response.status });
  }
}

/**
 * Creates a shadow REST client; see the module's example.
 * @throws ManifestError naming `endpoint`, `thingName`, `shadowName` or `timeoutMs` when invalid.
 */
export function createShadowHttpClient(options: ShadowHttpClientOptions): ShadowHttpClient {
  return new HttpShadowClient(options);
}
