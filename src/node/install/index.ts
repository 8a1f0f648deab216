/**
 * Installing updates on a Node device: atomic, crash-safe replacement of a file or a directory
 * with rollback, the opt-in runner for a package's `update.sh`, and a free-space check.
 *
 * @example
 * ```ts
 * import { createDirectoryInstaller, ensureFreeSpace, runUpdateScript } from 'otakit/node'
 *
 * const app = createDirectoryInstaller({ target: '/opt/app/current' })
 * const hooks = {
 *   install: async ({ staged, signal }) => {
 *     await extractZip(staged[0]!.location, await app.prepareStaging()) // your extractor
 *     await app.install(app.stagingPath, { signal })
 *     await runUpdateScript(app.target, { timeoutMs: 120_000, signal })
 *   },
 *   commit: () => app.commit(),
 *   rollback: () => app.rollback(),
 * }
 * ```
 *
 * @module
 */
export {
  createDirectoryInstaller,
  type DirectoryInstaller,
  type DirectoryInstallerOptions,
} from './directory-installer.js';
export { createFileInstaller, type FileInstallerOptions } from './file-installer.js';
export {
  ensureFreeSpace,
  type FreeSpace,
  type FreeSpaceOptions,
  formatBytes,
  InsufficientSpaceError,
  measureFreeSpace,
} from './free-space.js';
export { OutputTail } from './output-tail.js';
export { type RunUpdateScriptOptions, runUpdateScript, type ScriptResult } from './run-script.js';
export { ScriptError, type ScriptFailure } from './script-error.js';
export type { Installer, InstallerOptions, InstallerState, InstallOptions, InstallStep } from './types.js';
