/**
 * The micropython_ota device agent (docs/agents/micropython-ota.md): a Node device that updates
 * like a board running olivergregorius/micropython_ota, hardened.
 *
 * - It polls `<host>/<project>/version` (HTTP Basic auth when the target has credentials) and
 *   compares the tag with the local `version` file in the app directory. Any other tag is an
 *   update, an older one included: that is how the server rolls a fleet back.
 * - It downloads every file of the release (`<version>_<file>` or `<version>/<file>`, by the
 *   target's layout) before it installs any; one missing file (a 404) installs nothing.
 * - It installs all files at once: a copy of the app directory with the new files in it replaces
 *   the app directory by renames (the previous tree kept until the update commits), so a crash
 *   leaves the old release or the new one, never a mix.
 * - It writes the new tag to the `version` file last, atomically, once the update is committed.
 *
 * `otaUpdate()` and `checkForOtaUpdate()` (micropython-ota-once.ts) are the reference's two
 * functions on top of the same parts, for a device that checks once at boot.
 *
 * @example
 * ```ts
 * import { createMicropythonOtaAgent } from 'otakit/node'
 *
 * const agent = createMicropythonOtaAgent({
 *   target: {
 *     host: 'https://ota.example.com',
 *     project: 'sample',
 *     filenames: ['boot.py', 'main.py'],
 *     auth: { user: 'otauser', password: process.env.OTA_PASSWORD! },
 *   },
 *   appDirectory: '/opt/app',
 *   stateDirectory: '/var/lib/otakit',
 *   poll: { intervalMs: 10_000 },
 * })
 * agent.on('outcome', (outcome) => console.log(outcome.state, outcome.update?.version))
 * await agent.start()
 * ```
 *
 * @module
 */
import { DeviceAgent, type StartOptions } from '../../device/agent.js';
import {
  adoptLocalVersion,
  type MicropythonOtaAgentOptions,
  type MicropythonOtaParts,
  type MicropythonOtaTarget,
  micropythonOtaParts,
} from './micropython-ota-parts.js';
import { readVersionFile } from './micropython-ota-version.js';

export type { MicropythonOtaAgentOptions, MicropythonOtaTarget } from './micropython-ota-parts.js';

/** A micropython_ota agent: a `DeviceAgent` that starts from the local `version` file. */
export class MicropythonOtaAgent extends DeviceAgent<MicropythonOtaTarget> {
  /** Absolute path of the app directory. */
  readonly appDirectory: string;
  /** Absolute path of the local `version` file. */
  readonly versionFile: string;
  readonly #parts: MicropythonOtaParts;
  #started = false;

  constructor(options: MicropythonOtaAgentOptions) {
    const parts = micropythonOtaParts(options);
    super(parts.agent);
    parts.attach(() => this.current);
    this.#parts = parts;
    this.appDirectory = parts.appDirectory;
    this.versionFile = parts.versionFile;
  }

  /** The tag the local `version` file holds now, or `null` (missing or not a tag). */
  localVersion(): Promise<string | null> {
    return readVersionFile(this.versionFile);
  }

  override async start(options: StartOptions = {}): Promise<void> {
    // Only before the machine first loads its state: later it holds the state in memory.
    if (!this.#started && !this.running) await adoptLocalVersion(this.#parts);
    this.#started = true;
    return super.start(options);
  }
}

/**
 * Creates the micropython_ota device agent. `start()` it: it finishes whatever a restart
 * interrupted, rewrites the `version` file from its state, and polls the server's `version` file
 * every `poll.intervalMs` (default 60 s), running each new tag.
 *
 * Defaults that differ from `createDeviceAgent`'s, each overridable through `machine`:
 * `allowUnverified: true` (micropython_ota carries no digest and no size: the bytes are only
 * checked against the HTTP framing; give a `verify` hook for more) and `installIsIdempotent: true`.
 *
 * @throws ManifestError naming the invalid target field; OtaError `CONFIG` for bad directories or
 *   a file named `version`. No message holds the password.
 */
export function createMicropythonOtaAgent(options: MicropythonOtaAgentOptions): MicropythonOtaAgent {
  return new MicropythonOtaAgent(options);
}
