/**
 * `otakit/nats`: the NATS channel (Connhex's `heartbeat.ota.service` status bus) over
 * `@nats-io/transport-node`, an optional peer dependency loaded only by this entry.
 *
 * @example
 * ```ts
 * import { connectNats, natsChannel } from 'otakit/nats'
 *
 * const nats = natsChannel(await connectNats('nats://127.0.0.1:4222', { name: 'connhex-ota' }))
 * const stop = await nats.listen!({ channel: 'nats', subject: 'heartbeat.*.service' }, (message) => {
 *   console.log(message.address, new TextDecoder().decode(message.payload as Uint8Array))
 * })
 * ```
 *
 * @module
 */
export { type ConnectNatsOptions, connectNats } from './connect.js';
export type {
  NatsConnectionLike,
  NatsMessageLike,
  NatsStatusLike,
  NatsSubscriptionLike,
} from './connection.js';
export { INSTALL_NATS, MissingNatsPeerError, missingNatsError, NATS_PACKAGE } from './missing-peer.js';
export { type NatsChannel, type NatsChannelOptions, natsChannel } from './nats-channel.js';
