/**
 * `connectNats`: a `@nats-io/transport-node` connection with the defaults a device agent needs
 * (reconnect for ever, a short wait between attempts), and failures as otakit errors that never
 * carry a credential.
 *
 * @module
 */
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { TransportError } from '../core/errors.js';
import { GENERIC_SECRETS, redactTextWith } from '../core/redact.js';
import { nats } from './load-nats.js';

/**
 * The client's own connection options (`user`/`pass`, `token`, `authenticator`, `tls`, `name`…),
 * without `servers`. otakit's defaults differ from the client's in two places.
 */
export interface ConnectNatsOptions extends Omit<NodeConnectionOptions, 'servers'> {
  /**
   * Reconnect attempts per server before the client gives up and closes; `-1` never gives up
   * (the agent's NATS bus is local and may restart at any time).
   * @default -1
   */
  maxReconnectAttempts?: number;
  /**
   * Milliseconds between two attempts on the same server (plus the client's jitter).
   * @default 1000
   */
  reconnectTimeWait?: number;
  /**
   * Milliseconds the first connection may take.
   * @default 10000
   */
  timeout?: number;
}

/** Client error codes another attempt with the same settings cannot fix. */
const PERMANENT = /AUTHORIZATION|AUTHENTICATION|PERMISSION/i;

/** The client's message with every credential the options hold masked. */
function safeReason(cause: unknown, options: ConnectNatsOptions): string {
  let text = cause instanceof Error ? cause.message : String(cause);
  for (const secret of [options.pass, options.token]) {
    if (typeof secret === 'string' && secret.length > 0) text = text.replaceAll(secret, '***');
  }
  return redactTextWith(text, GENERIC_SECRETS).slice(0, 300);
}

/** Servers for messages: user info (`nats://user:pw@host`) masked. */
function shownServers(servers: string | readonly string[]): string {
  const list = typeof servers === 'string' ? [servers] : servers;
  return list.map((server) => redactTextWith(server, GENERIC_SECRETS)).join(', ');
}

/**
 * Connects to NATS. Rejects with a {@link TransportError} (not retryable for refused credentials)
 * whose message names the servers without credentials. The connection reconnects and
 * resubscribes by itself; close it with `close()` (the channel never does).
 *
 * @example
 * ```ts
 * import { connectNats, natsChannel } from 'otakit/nats'
 *
 * const connection = await connectNats('nats://127.0.0.1:4222', { user: 'ota', pass: secret })
 * const channel = natsChannel(connection)
 * ```
 */
export async function connectNats(
  servers: string | readonly string[],
  options: ConnectNatsOptions = {},
): Promise<NatsConnection> {
  try {
    return await nats.connect({
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      timeout: 10_000,
      ...options,
      servers: typeof servers === 'string' ? servers : [...servers],
    });
  } catch (cause) {
    const code = (cause as { code?: unknown } | null)?.code;
    const name = cause instanceof Error ? cause.name : '';
    const permanent = PERMANENT.test(`${typeof code === 'string' ? code : ''} ${name}`);
    throw new TransportError(
      `NATS connection to ${shownServers(servers)} failed: ${safeReason(cause, options)}`,
      { retryable: !permanent },
    );
  }
}
