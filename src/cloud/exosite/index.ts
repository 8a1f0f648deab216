/**
 * The cloud side of Exosite Murano: the publisher (orders through the device state API, statuses
 * and acknowledgements from the write feed into a fleet) and the feed's wire format, shared with
 * the local device-API service of `otakit/node`. Browser-safe. See docs/cloud/exosite.md.
 *
 * @module
 */
export {
  decodeFeedPage,
  FEED_PAGE_BYTES,
  FEED_PAGE_LIMIT,
  type FeedEvent,
  FeedEventSchema,
  type FeedPage,
  FeedPageSchema,
  feedPath,
  feedRequest,
} from './feed.js';
export {
  createExositePublisher,
  type ExositeAcknowledgement,
  ExositePublisher,
  type ExositePublisherEvents,
  type ExositePublisherOptions,
  type ExositeStatusEvent,
  type ExositeSync,
} from './publisher.js';
