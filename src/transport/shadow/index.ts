/**
 * AWS IoT Device Shadow clients, browser-safe: over any `MqttConnection` (`createShadowClient`)
 * and over the REST API on ky (`createShadowHttpClient`), with `clientToken` correlation,
 * timeouts, version tracking, 409 handling and typed errors carrying the AWS code and message.
 *
 * @module
 */
export {
  createShadowClient,
  type DeltaStreamOptions,
  type ShadowClient,
  type ShadowClientOptions,
} from './client.js';
export { isShadowRejected, ShadowRejectedError } from './errors.js';
export {
  createShadowHttpClient,
  type NamedShadowPage,
  type ShadowHttpClient,
  type ShadowHttpClientOptions,
} from './http.js';
export {
  type OperationTopics,
  SHADOW_REQUEST_FILTERS,
  type ShadowTopicSet,
  shadowTopicSet,
} from './topics.js';
export type {
  ShadowAddress,
  ShadowConflictResolver,
  ShadowOperation,
  ShadowOperations,
  ShadowRequestOptions,
  ShadowRequestState,
  ShadowUpdateOptions,
} from './types.js';
