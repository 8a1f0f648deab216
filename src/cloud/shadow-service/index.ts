/**
 * The self-hosted AWS IoT Device Shadow service: the service on any MQTT connection, its store
 * interface with a memory and a key-value implementation, and the document model it runs on.
 *
 * @module
 */

export type { ShadowSizeLimits, StoredShadow } from './document.js';
export { MemoryShadowStore } from './memory-store.js';
export {
  createShadowService,
  type ShadowRequestRecord,
  type ShadowService,
  type ShadowServiceLimits,
  type ShadowServiceOptions,
} from './service.js';
export { type StateShadowStoreOptions, stateShadowStore } from './state-store.js';
export { type ShadowSlot, type ShadowStore, shadowKey } from './store.js';
