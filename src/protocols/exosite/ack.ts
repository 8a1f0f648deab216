/**
 * Acknowledgement (docs/protocols/exosite.md, "Acknowledgement"): after receiving a `config_otau`
 * value, the device writes the *identical* string back to `config_otau`, which resolves the
 * cloud's sync state (ExoSense shows the config as pending until then). The value is echoed
 * before it is validated, so an invalid manifest is acknowledged too and then answered with
 * `TEST_ERROR`.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { wireText } from '../../core/wire.js';
import { CONFIG_OTAU } from './alias.js';
import { type ExositeRequest, writeRequest } from './http.js';
import { LIMITS } from './limits.js';
import { type Publication, parseResourceTopic, resourceTopic } from './topics.js';

const WHAT = 'Exosite acknowledgement value';

function checkedSize(value: string | Uint8Array): string | Uint8Array {
  // Only the byte limit: the echo must not depend on the manifest being valid.
  const text = wireText(value, { what: WHAT, maxBytes: LIMITS.resourceBytes });
  if (typeof text !== 'string') throw new ManifestError(WHAT, [{ path: '', expected: 'a string or bytes' }]);
  return value;
}

/**
 * The MQTT acknowledgement of a resource change: the same payload (same bytes, when given bytes)
 * published to `$resource/<alias>` of the topic it arrived on.
 *
 * @throws ManifestError when `topic` is not a resource topic or the payload is over
 *   {@link LIMITS.resourceBytes} or not UTF-8.
 *
 * @example
 * ```ts
 * client.on('message', (topic, payload) => {
 *   const ack = acknowledgeChange({ topic, payload })
 *   client.publish(ack.topic, ack.payload)
 * })
 * ```
 */
export function acknowledgeChange(message: { topic: string; payload: string | Uint8Array }): Publication {
  const { alias } = parseResourceTopic(message.topic);
  return { topic: resourceTopic(alias), payload: checkedSize(message.payload) };
}

/**
 * The MQTT acknowledgement of a `config_otau` value: publish it unchanged to `$resource/config_otau`.
 */
export function acknowledgePublication(value: string | Uint8Array): Publication {
  return { topic: resourceTopic(CONFIG_OTAU), payload: checkedSize(value) };
}

/**
 * The HTTP acknowledgement of a `config_otau` value: a write of the same string, body
 * `config_otau=<form-encoded value>`.
 *
 * @param options.value The resource value as read (`decodeForm(body).config_otau` or
 *   `LongPollResult.value`), not re-serialised from a parsed manifest.
 *
 * @example
 * ```ts
 * const result = decodeLongPollResponse(response, lastModified)
 * if (result.kind === 'changed') await send(acknowledgeRequest({ token, value: result.value }))
 * ```
 */
export function acknowledgeRequest(options: {
  token: string;
  value: string;
  alias?: string;
}): ExositeRequest {
  checkedSize(options.value);
  return writeRequest({ token: options.token, values: { [options.alias ?? CONFIG_OTAU]: options.value } });
}
