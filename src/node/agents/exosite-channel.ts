/**
 * The channels of the Exosite agent. Two wrappers over whatever channel carries the device API:
 *
 * - {@link rerouted}: the protocol addresses `https://<productId>.<domain>`; a loopback
 *   emulation, a development server without TLS or a local proxy lives elsewhere (`apiOrigin`).
 * - {@link orderedWrites}: writes leave one at a time, in the order they were asked for. The
 *   acknowledgement of an order is sent from the decoder and the statuses from the machine and the
 *   download step: without one queue an HTTP `INIT` could overtake the `config_otau` echo, or a
 *   `DOWNLOAD_STEP` its `DOWNLOAD`. Reads (the long poll above all, which the server holds) bypass it.
 *
 * @module
 */
import { OtaError } from '../../core/errors.js';
import { serialize } from '../../core/serialize.js';
import type { WireMessage } from '../../protocols/contract.js';
import type { Channel } from '../../transport/channel.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * `apiOrigin` checked and normalised (`scheme://host[:port]`, no path). `http:` only for a
 * loopback host: the device token travels in every request.
 */
export function checkedApiOrigin(value: unknown): string {
  const expected = 'Exosite agent: apiOrigin must be an http(s) origin such as https://proxy.example:8443';
  if (typeof value !== 'string' || !URL.canParse(value)) throw new OtaError('CONFIG', expected);
  const url = new URL(value);
  const bare = (url.pathname === '/' || url.pathname === '') && url.search === '' && url.hash === '';
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || !bare || url.username || url.password) {
    throw new OtaError('CONFIG', expected);
  }
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    throw new OtaError(
      'CONFIG',
      'Exosite agent: apiOrigin may use http: only for a loopback host (the device token is in every request)',
    );
  }
  return url.origin;
}

/** `channel` with every address that starts with `from` sent to `to` instead. */
export function rerouted(channel: Channel, from: string, to: string): Channel {
  if (from === to) return channel;
  const reroute = (message: WireMessage): WireMessage =>
    message.address.startsWith(`${from}/`)
      ? { ...message, address: `${to}${message.address.slice(from.length)}` }
      : message;
  return {
    kind: channel.kind,
    send: (message, options) => channel.send(reroute(message), options),
    ...(channel.listen === undefined ? {} : { listen: channel.listen.bind(channel) }),
  };
}

/** Whether a message only reads (an HTTP `GET`): it never waits behind writes. */
function isRead(message: WireMessage): boolean {
  return (
    message.channel === 'http' && (message.method ?? (message.payload === '' ? 'GET' : 'POST')) === 'GET'
  );
}

/** `channel` with its writes sent one at a time, in call order (a failed one does not stop the rest). */
export function orderedWrites(channel: Channel): Channel {
  const queue = serialize();
  return {
    kind: channel.kind,
    send: (message, options) =>
      isRead(message) ? channel.send(message, options) : queue(() => channel.send(message, options)),
    ...(channel.listen === undefined ? {} : { listen: channel.listen.bind(channel) }),
  };
}
