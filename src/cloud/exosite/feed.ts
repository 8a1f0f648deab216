/**
 * The write feed of otakit's local Murano device-API service (docs/cloud/exosite.md, "The local
 * service"): every resource write of every device, in order, numbered. Murano itself hands these
 * to a scripting event handler (`device2.event`); a back end outside Murano has only the device
 * state, which keeps the latest value and so loses the statuses in between. The feed keeps them
 * all, so a fleet sees `INIT` … `INSTALL_SUCCESS` one by one.
 *
 * `GET /api:1/service/<productId>/device2/events?after=<seq>&limit=<n>`, with `Authorization:
 * Bearer <management token>` and optionally `Request-Timeout: <ms>` to wait for the next write.
 * Answer `200`, JSON {@link FeedPage}. Wire format only: both the service and the publisher use it.
 *
 * @module
 */
import * as z from 'zod';
import { OtaError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { decodeJson, type WireInput } from '../../core/wire.js';
import type { WireMessage } from '../../protocols/contract.js';
import { AliasSchema } from '../../protocols/exosite/alias.js';
import { LIMITS } from '../../protocols/exosite/limits.js';

/** Writes in one page at most. */
export const FEED_PAGE_LIMIT = 256;

/** Bytes of one page: a page may hold a few full-size resource values. */
export const FEED_PAGE_BYTES = 8 * LIMITS.resourceBytes;

/** One device write. */
export const FeedEventSchema = z.object({
  /** Position in the feed: increases by one with every write of the product's devices. */
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  identity: z.string().min(1).max(128),
  alias: AliasSchema,
  /** The resource string the device wrote (`otau_in`: a status; `config_otau`: its acknowledgement). */
  value: z.string().max(LIMITS.resourceBytes),
  /** Microseconds since the epoch. */
  timestamp: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});
export type FeedEvent = z.output<typeof FeedEventSchema>;

/** One answer of the feed. */
export const FeedPageSchema = z.object({
  events: z.array(FeedEventSchema).max(FEED_PAGE_LIMIT),
  /** Pass as `after` next time (the last event's `seq`, or `after` again when there was none). */
  next: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /**
   * `true` when writes after `after` were dropped before they could be read (the service keeps a
   * bounded journal): read the device states to catch up.
   */
  gap: z.boolean(),
});
export type FeedPage = z.output<typeof FeedPageSchema>;

/** The feed's path for one product. */
export function feedPath(productId: string): string {
  if (!/^[a-z0-9]{1,63}$/.test(productId)) {
    throw new OtaError('CONFIG', 'Invalid Exosite product id: expected 1 to 63 lowercase letters or digits');
  }
  return `/api:1/service/${productId}/device2/events`;
}

/** The request for the writes after `after`, waiting up to `waitMs` (0: answer at once). */
export function feedRequest(options: { productId: string; after: number; waitMs?: number }): WireMessage {
  const { after, waitMs = 0 } = options;
  if (!Number.isSafeInteger(after) || after < 0) {
    throw new OtaError('CONFIG', 'Invalid feed position: expected a whole number >= 0');
  }
  if (!Number.isSafeInteger(waitMs) || waitMs < 0 || waitMs > LIMITS.requestTimeoutMs) {
    throw new OtaError('CONFIG', `Invalid feed wait: expected 0 to ${LIMITS.requestTimeoutMs} ms`);
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  if (waitMs > 0) headers['request-timeout'] = String(waitMs);
  return {
    channel: 'http',
    address: `${feedPath(options.productId)}?after=${after}&limit=${FEED_PAGE_LIMIT}`,
    method: 'GET',
    headers,
    payload: '',
  };
}

/**
 * A feed answer's body.
 * @throws ManifestError when it is not a {@link FeedPage}.
 */
export function decodeFeedPage(body: WireInput): FeedPage {
  const what = 'Exosite write feed page';
  return parseWith(FeedPageSchema, decodeJson(body, { what, maxBytes: FEED_PAGE_BYTES }), what);
}
