/**
 * The HTTP channel: a wire message becomes a `fetch` request, the response an
 * {@link InboundMessage} for the protocol to decode. Web standards only (runs in a browser);
 * pass `otakit/node`'s `nodeFetch` for custom CAs or keep-alive tuning.
 *
 * @example
 * ```ts
 * import { httpChannel } from 'otakit'
 *
 * const http = httpChannel({ baseUrl: 'https://api.example.com', timeoutMs: 30_000 })
 * ```
 *
 * @module
 */
import { abortReason } from '../core/abort.js';
import { OtaError, TransportError } from '../core/errors.js';
import { GENERIC_SECRETS, mergeSecrets, redactUrlWith, type SecretPatterns } from '../core/redact.js';
import type { InboundMessage, WireMessage } from '../protocols/contract.js';
import { bodyReader } from './body-reader.js';
import type { Channel, ChannelSendOptions } from './channel.js';

export interface HttpChannelOptions {
  /** Resolves relative addresses (`/api/v1/...`). Absolute addresses are used as they are. */
  baseUrl?: string;
  /** Headers added to every request (a message's own headers win). May hold credentials. */
  headers?: Readonly<Record<string, string>>;
  /**
   * Time for a whole exchange, in ms. A long poll asks the server to hold the request for
   * `request-timeout` ms: the channel then waits that long plus this.
   * @default 30000
   */
  timeoutMs?: number;
  /**
   * Largest response body kept, in bytes: orders and version files are small, and a server that
   * streams more is refused (a `TransportError`) rather than buffered.
   * @default 1048576
   */
  maxBodyBytes?: number;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** Credentials in URLs to mask in error messages (the protocol's `secrets`). */
  secrets?: SecretPatterns;
}

export interface HttpChannel extends Channel {
  readonly kind: 'http';
  /** Every HTTP request has an answer (status, lower-cased headers, body as text). */
  send(message: WireMessage, options?: ChannelSendOptions): Promise<InboundMessage>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export function httpChannel(options: HttpChannelOptions = {}): HttpChannel {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const secrets =
    options.secrets === undefined ? GENERIC_SECRETS : mergeSecrets(GENERIC_SECRETS, options.secrets);
  return {
    kind: 'http',
    async send(message: WireMessage, sendOptions: ChannelSendOptions = {}): Promise<InboundMessage> {
      if (message.channel !== 'http') {
        throw new OtaError('CONFIG', `The HTTP channel cannot send a ${message.channel} message`);
      }
      const url = resolveUrl(message.address, options.baseUrl);
      const shown = redactUrlWith(url, secrets);
      const method = message.method ?? (message.payload === '' ? 'GET' : 'POST');
      const headers = { ...options.headers, ...message.headers };
      const held = Number(headers['request-timeout'] ?? 0);
      const budget = timeoutMs + (Number.isFinite(held) && held > 0 ? held : 0);
      const timeout = AbortSignal.timeout(budget);
      const signal = sendOptions.signal ? AbortSignal.any([sendOptions.signal, timeout]) : timeout;
      const doFetch = options.fetch ?? globalThis.fetch;
      let response: Response;
      try {
        response = await doFetch(url, {
          method,
          headers,
          signal,
          ...(method === 'GET' || method === 'HEAD' ? {} : { body: message.payload }),
          // An order or a version file must come from the server, never from a browser's cache.
          cache: 'no-store',
        });
      } catch (cause) {
        if (sendOptions.signal?.aborted) throw abortReason(sendOptions.signal);
        const why = timeout.aborted ? `no answer within ${budget} ms` : describe(cause);
        throw new TransportError(`HTTP ${method} ${shown} failed: ${why}`, { cause, retryable: true });
      }
      const payload = method === 'HEAD' ? '' : await readText(response, maxBodyBytes, `${method} ${shown}`);
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        responseHeaders[name.toLowerCase()] = value;
      });
      return { address: url, payload, status: response.status, headers: responseHeaders };
    },
  };
}

function resolveUrl(address: string, baseUrl: string | undefined): string {
  try {
    return new URL(address, baseUrl).href;
  } catch {
    throw new OtaError(
      'CONFIG',
      `Not an absolute URL, and no baseUrl to resolve it against: "${address.slice(0, 80)}"`,
    );
  }
}

/** An error's message only: a `fetch` failure can quote the URL, credentials and all. */
function describe(cause: unknown): string {
  const inner = (cause as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof inner === 'string' ? inner : cause instanceof Error ? cause.name : 'network error';
}

async function readText(response: Response, maxBytes: number, what: string): Promise<string> {
  if (response.body === null) return '';
  const reader = bodyReader(response.body, 64 * 1024);
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (let chunk = await reader.read(); chunk !== undefined; chunk = await reader.read()) {
    length += chunk.byteLength;
    if (length > maxBytes) {
      await reader.cancel();
      throw new TransportError(`HTTP ${what}: response body over ${maxBytes} bytes`, { retryable: false });
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
