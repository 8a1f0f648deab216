/**
 * The document semantics of the AWS IoT Device Shadow service (merge, delta, version lock,
 * metadata, AWS's error documents), as `otakit/testing` has always offered them as
 * `shadowModel`. The model itself lives with the self-hosted shadow service in
 * `src/cloud/shadow-service/`, which runs on it; this module keeps the testing entry's namespace.
 *
 * @module
 */
export * from '../cloud/shadow-service/document.js';
