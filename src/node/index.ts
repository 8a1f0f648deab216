/**
 * `otakit/node`: the Node.js adapters of otakit (file system, processes). Never imported by the
 * browser-safe root entry.
 *
 * @example
 * ```ts
 * import { createUpdateMachine } from 'otakit'
 * import { FileStore } from 'otakit/node'
 *
 * const machine = createUpdateMachine({ id: 'gw-7', store: new FileStore('/var/lib/agent'), hooks })
 * await machine.resume()
 * ```
 *
 * @module
 */

// The Connhex addon's agent.toml (a TOML parser, Go durations): here, beside the agent that reads
// the file, so the browser-safe root does not carry it.
export * as connhexAgent from '../protocols/connhex/agent.js';
// Exosite's provisioning API (activation, content listing), for the device agent.
export * as exositeProvisioning from '../protocols/exosite/provision.js';
// insigh.io packages (.tar.gz): read and unpacked by the device agent (browser-safe code, kept
// out of the root so a dashboard does not carry a tar reader).
export * as insighIoPackage from '../protocols/insighio/package.js';
// The engine itself, so a Node agent can import everything it needs from this entry alone
// (without loading the protocol codecs of the root entry).
export {
  type DownloadOptions,
  type DownloadResult,
  downloadArtifact,
  type ResumeValidators,
} from '../transport/download.js';
// Ready device agents, one per platform.
export * from './agents/index.js';
export * from './archive/index.js';
// Cloud-side servers.
export {
  type ConnhexReleaseEndpoint,
  type ConnhexReleaseHandler,
  type ConnhexReleaseHandlerOptions,
  type ConnhexReleaseKeys,
  type ConnhexReleaseServer,
  type ConnhexReleaseServerOptions,
  createConnhexReleaseHandler,
  startConnhexReleaseServer,
} from './cloud/connhex-release-server.js';
export {
  type ConnhexReleaseFiles,
  type ConnhexReleaseInput,
  type ConnhexReleaseScope,
  type ConnhexReleaseScopeInput,
  ConnhexReleases,
  type StoredConnhexRelease,
} from './cloud/connhex-releases.js';
export {
  type ContentFaults as ExositeContentFaults,
  createExositeDeviceApi,
  type ExositeDeviceApi,
  type ExositeDeviceApiOptions,
  type ExositeDeviceSpec,
  type ExositeResourceView,
} from './cloud/exosite-device-api.js';
export {
  createFileShadowStore,
  type FileShadowStoreOptions,
  shadowFileKey,
} from './cloud/file-shadow-store.js';
export {
  type InsighIoPackageServer,
  type InsighIoPackageServerOptions,
  insighIoPackageHandler,
  type StartInsighIoPackageServerOptions,
  startInsighIoPackageServer,
} from './cloud/insighio-package-server.js';
export {
  activateRelease,
  listReleases,
  liveVersion,
  type PublishedRelease,
  type PublishReleaseOptions,
  type PublishStep,
  publishRelease,
  type ReleaseInfo,
  withdrawRelease,
} from './cloud/micropython-ota-publish.js';
export {
  type CredentialsOption,
  createMicropythonOtaHandler,
  type FetchEvent,
  type FetchListener,
  type MicropythonOtaHandler,
  type MicropythonOtaServerOptions,
  type ServerCredentials,
  type StartedMicropythonOtaServer,
  type StartMicropythonOtaServerOptions,
  startMicropythonOtaServer,
} from './cloud/micropython-ota-server.js';
export type { AedesBroker } from './cloud/thingsboard-aedes.js';
export {
  createThingsBoardDeviceGateway,
  type GatewayChunkEvent as ThingsBoardGatewayChunkEvent,
  type GatewayDevice as ThingsBoardGatewayDevice,
  ThingsBoardDeviceGateway,
  type ThingsBoardDeviceGatewayOptions,
} from './cloud/thingsboard-device-gateway.js';
export { thingsBoardGatewayHttpHandler } from './cloud/thingsboard-gateway-http.js';
export type {
  GatewayPackage as ThingsBoardGatewayPackage,
  GatewayPackageInput as ThingsBoardGatewayPackageInput,
} from './cloud/thingsboard-packages.js';
export { writeZip, type ZipEntryInput } from './cloud/zip-writer.js';
export { createFileDownloadHook, type FileDownloadHookOptions, stagedPath } from './download-hook.js';
export {
  type FileChannel,
  type FileChannelOptions,
  fileChannel,
  isFileChannelTemp,
  resolveFileAddress,
} from './file-channel.js';
export { FileSink, type FileSinkOptions } from './file-sink.js';
export { FileStore, type FileStoreOptions } from './file-store.js';
export { createNodeHash } from './hash.js';
export * from './install/index.js';
export { createNodeFetch, type NodeFetchOptions, nodeFetch } from './node-fetch.js';
export { createWorkerHash, hashInWorkers } from './worker-hash.js';
