/**
 * Watching a whole fleet of Connhex Edge devices with one NATS subscription. The OTA addon's
 * heartbeat names no device: every edge publishes on `heartbeat.ota.service` of its own bus, and
 * the payload carries versions and a status word only. A back end tells devices apart by the
 * subject their heartbeat reaches it on, which the NATS topology gives each edge (a leaf node or
 * an account import mapping it to, say, `edges.<initId>.heartbeat.ota.service`). Here one
 * subscription covers them all: the `*` token of the subject is the device's `initId`, and each
 * message is ingested for that device's target (its `statusSubject` being the subject it came on).
 *
 * @module
 */
import { OtaError, toOtaError } from '../core/errors.js';
import { type Logger, noopLogger } from '../core/logger.js';
import { parseSubject } from '../protocols/connhex/subjects.js';
import { parseTarget, type Target } from '../protocols/connhex/target.js';
import type { InboundMessage } from '../protocols/contract.js';
import type { Channel, StopListening } from '../transport/channel.js';
import type { FleetIngestResult } from './fleet/types.js';
import type { UpdatePublisher } from './publisher.js';

/** What every device of the fleet shares: where its release endpoint is, how it authenticates. */
export type ConnhexSharedTarget = Omit<Target, 'initId' | 'statusSubject'>;

export interface ConnhexFleetWatchOptions {
  /** The NATS channel to subscribe on (`natsChannel(await connectNats(…))` of `otakit/nats`). */
  nats: Channel;
  /**
   * The subscription, with exactly one `*` token standing for the device's `initId`, e.g.
   * `edges.*.heartbeat.ota.service`.
   */
  subject: string;
  /**
   * The target of a device: the shared fields (`domain` or `baseUrl`…), to which `initId` and
   * `statusSubject` are added; or a function returning the whole target, `undefined` for a
   * device the service does not know (its messages are then skipped).
   */
  target: ConnhexSharedTarget | ((initId: string, subject: string) => Target | undefined);
  /** Problems that reach no caller: a device the service does not know, a status not stored. */
  onError?: (error: OtaError) => void;
  /** @default noopLogger */
  logger?: Logger;
}

/**
 * Subscribes once for every device and ingests each heartbeat into `publisher.fleet` (a
 * `status` event on the publisher per message, as `publisher.watch` does). Messages of one
 * device are ingested in the order they arrived; devices do not wait for one another. Resolves
 * once subscribed; the returned function stops listening.
 *
 * @throws OtaError (`CONFIG`) when the subject has no `*` token or more than one, or when the
 *   channel cannot listen.
 *
 * @example
 * ```ts
 * const publisher = createUpdatePublisher({ protocol: connhex.protocol, channels: { nats, http } })
 * await watchConnhexFleet(publisher, {
 *   nats,
 *   subject: 'edges.*.heartbeat.ota.service',
 *   target: { baseUrl: 'https://ota.example.com' },
 * })
 * ```
 */
export async function watchConnhexFleet(
  publisher: UpdatePublisher<Target>,
  options: ConnhexFleetWatchOptions,
): Promise<StopListening> {
  const tokens = parseSubject(options.subject, { wildcards: true });
  const slot = tokens.indexOf('*');
  if (slot === -1 || tokens.lastIndexOf('*') !== slot || tokens.includes('>')) {
    throw new OtaError(
      'CONFIG',
      'Connhex fleet watch: the subject needs exactly one "*" token (the device initId) and no ">"',
    );
  }
  if (options.nats?.listen === undefined) {
    throw new OtaError('CONFIG', 'Connhex fleet watch: the nats channel cannot listen');
  }
  const logger = options.logger ?? noopLogger;
  const report = (error: OtaError) => {
    logger.warn('otakit connhex fleet watch: status not ingested', {
      code: error.code,
      message: error.message,
    });
    options.onError?.(error);
  };
  const targetOf = (initId: string, subject: string): Target | undefined => {
    if (typeof options.target === 'function') return options.target(initId, subject);
    return parseTarget({ ...options.target, initId, statusSubject: subject });
  };
  // One chain per device keeps its heartbeats in order; the entry is dropped once it drains.
  const chains = new Map<string, Promise<void>>();

  const ingest = async (initId: string, message: InboundMessage): Promise<FleetIngestResult | undefined> => {
    const target = targetOf(initId, message.address);
    if (target === undefined) {
      report(new OtaError('CONFIG', `Connhex fleet watch: no target for device ${JSON.stringify(initId)}`));
      return undefined;
    }
    return publisher.ingest(target, message);
  };

  return options.nats.listen({ channel: 'nats', subject: options.subject }, (message) => {
    const initId = message.address.split('.')[slot];
    if (initId === undefined || initId === '') return;
    const previous = chains.get(initId) ?? Promise.resolve();
    const next = previous
      .then(() => ingest(initId, message))
      .then(
        () => undefined,
        (error: unknown) => report(toOtaError(error, 'STORE', true)),
      )
      .finally(() => {
        if (chains.get(initId) === next) chains.delete(initId);
      });
    chains.set(initId, next);
  });
}
