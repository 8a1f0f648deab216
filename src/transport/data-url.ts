/**
 * Inline artifacts: the bytes of a `data:` URL (RFC 2397), decoded without any network request.
 * Exosite JSON-type manifests carry their object this way.
 *
 * @module
 */
import { decodeBase64 } from '../core/encoding.js';
import { IntegrityError, TransportError } from '../core/errors.js';

/**
 * The bytes of `url`, a `data:` URL.
 * @throws TransportError (not retryable) for a malformed URL; IntegrityError when the content is
 *   larger than `maxBytes`.
 */
export function decodeDataUrl(url: string, maxBytes: number, safeUrl: string): Uint8Array {
  const comma = url.indexOf(',');
  if (!/^data:/i.test(url) || comma < 0) {
    throw new TransportError(`${safeUrl}: not a data: URL (data:[<type>][;base64],<data>)`, {
      retryable: false,
    });
  }
  const header = url.slice(5, comma);
  const data = url.slice(comma + 1);
  const base64 = /;base64$/i.test(header);
  let bytes: Uint8Array | undefined;
  try {
    const text = decodeURIComponent(data);
    bytes = base64 ? decodeBase64(text.replace(/\s+/g, '')) : new TextEncoder().encode(text);
  } catch {
    bytes = undefined;
  }
  if (bytes === undefined) {
    throw new TransportError(
      `${safeUrl}: malformed data: URL content (${base64 ? 'base64' : 'percent-encoding'})`,
      {
        retryable: false,
      },
    );
  }
  if (bytes.length > maxBytes) {
    throw new IntegrityError(safeUrl, {
      algorithm: 'size',
      expected: `at most ${maxBytes} bytes`,
      actual: String(bytes.length),
    });
  }
  return bytes;
}
