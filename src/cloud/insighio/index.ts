/**
 * The insigh.io cloud side: the package writer (ustar, microfreezer's pseudo-gzip, gzip), the
 * file catalog (file id → release), the package store, and the publisher that ties them to the
 * retained order and the fleet. Browser-safe; the package server is in `otakit/node`.
 *
 * @module
 */
export { CATALOG_PREFIX, type CatalogEntry, ReleaseCatalog } from './catalog.js';
export { MemoryPackageStore, type PackageStore } from './package-store.js';
export {
  type PackageFile,
  type PackageWriteFormat,
  type WriteTarOptions,
  type WrittenPackage,
  wrapGzip,
  wrapPseudoGzip,
  writePackage,
  writeTar,
} from './package-writer.js';
export {
  createInsighIoPublisher,
  InsighIoPublisher,
  type InsighIoPublisherEvents,
  type InsighIoPublisherOptions,
  type InsighIoPublishResult,
  type InsighIoRelease,
} from './publisher.js';
