/**
 * The HTTP channel a Connhex publisher sends its orders on: the protocol's `PUT` of the release
 * JSON and `DELETE` carry no credential of their own, and a release endpoint must not take
 * releases from anyone, so this adds `Authorization: Bearer <token>` to them.
 *
 * @module
 */
import { OtaError } from '../core/errors.js';
import type { Channel, ChannelSendOptions, WireMessage } from '../transport/channel.js';

/**
 * Wraps `http` so every request it sends carries `Authorization: Bearer <token>` (the
 * `publisherToken` of the release endpoint). The token is never part of an error message.
 *
 * @throws OtaError (`CONFIG`) when the token is not printable ASCII without spaces, or `http`
 *   is not an HTTP channel.
 *
 * @example
 * ```ts
 * const http = connhexPublisherChannel(httpChannel(), process.env.RELEASE_TOKEN!)
 * const publisher = createUpdatePublisher({ protocol: connhex.protocol, channels: { http, nats } })
 * ```
 */
export function connhexPublisherChannel(http: Channel, token: string): Channel {
  if (http?.kind !== 'http') {
    throw new OtaError('CONFIG', 'Connhex publisher channel: wrap a channel of kind "http"');
  }
  if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) {
    throw new OtaError(
      'CONFIG',
      'Connhex publisher channel: the token must be non-empty printable ASCII without spaces (value not shown)',
    );
  }
  return {
    kind: 'http',
    send(message: WireMessage, options?: ChannelSendOptions) {
      const headers = { ...message.headers, authorization: `Bearer ${token}` };
      return http.send({ ...message, headers }, options);
    },
  };
}
