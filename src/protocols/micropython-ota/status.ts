/**
 * micropython_ota reports nothing over the wire: the server never learns what a device did, and
 * the reference prints its failures and swallows them. Every phase below is therefore local-only,
 * observable on the device (by otakit's events) and nowhere else; the one trace is the device's
 * own `version` file, written at `version_written` (see `local-version.ts`). The mapping still
 * exists so the table in docs/protocols/micropythonOta.md is complete and a device agent can
 * name its phases.
 *
 * @module
 */
import type { UpdateState } from '../../core/states.js';
import type { StatusMapping } from '../conversion.js';

/** The phases of `ota_update`, in order, then its ways to fail. All local to the device. */
export const LOCAL_PHASES = [
  /** The local `version` file names the release that runs. */
  'current',
  /** GET `<project>/version`. */
  'checking',
  /** The server's tag differs from the local one (`changed=True`). */
  'changed',
  /** GET of each file into `tmp/`. */
  'downloading',
  /** Every file is complete in `tmp/`. */
  'staged',
  /** Copying `tmp/<file>` over `<file>`, then the reset. */
  'copying',
  /** The local `version` file now holds the new tag: the update is in effect. */
  'version_written',
  /** The version request failed or did not answer 200 (`(False, local)`). */
  'check_failed',
  /** A file did not answer 200, or the download raised: nothing installed, `tmp/` kept. */
  'download_failed',
  /** The copy phase raised: the device may run a mix of old and new files, retried on next boot. */
  'copy_failed',
] as const;

export type LocalPhase = (typeof LOCAL_PHASES)[number];

/**
 * micropython_ota phases against the canonical states. Canonical states without a phase map to
 * `null`: the device has nothing to say for them, locally or remotely.
 */
export const statusMapping: StatusMapping<LocalPhase> = {
  system: 'micropython_ota',
  toCanonical: {
    current: 'idle',
    checking: 'checking',
    changed: 'available',
    downloading: 'downloading',
    staged: 'downloaded',
    copying: 'installing',
    version_written: 'committed',
    check_failed: 'check_failed',
    download_failed: 'download_failed',
    copy_failed: 'install_failed',
  },
  fromCanonical: {
    idle: 'current',
    checking: 'checking',
    available: 'changed',
    downloading: 'downloading',
    downloaded: 'staged',
    verifying: null,
    installing: 'copying',
    installed: 'version_written',
    committed: 'version_written',
    rolling_back: null,
    check_failed: 'check_failed',
    download_failed: 'download_failed',
    verify_failed: null,
    install_failed: 'copy_failed',
    rolled_back: null,
    canceled: null,
  },
  notes: {
    verifying: 'micropython_ota carries no digest or size, so there is nothing to verify',
    verify_failed: 'micropython_ota carries no digest or size, so there is nothing to verify',
    installed:
      'the version file is written before the reset and there is no health check: installed reads back as committed',
    rolling_back: 'micropython_ota cannot roll back; a rollback is a new release with an older tag',
    rolled_back: 'micropython_ota cannot roll back; a rollback is a new release with an older tag',
    canceled: 'micropython_ota has no cancel',
  },
};

/**
 * The local phase a canonical state corresponds to, or `null` when micropython_ota has none.
 * Nothing is sent anywhere: use it to label device-side logs and events.
 */
export function statusToPhase(status: { state: UpdateState }): LocalPhase | null {
  return statusMapping.fromCanonical[status.state];
}

/** The canonical state of a local phase. */
export function phaseToState(phase: LocalPhase): UpdateState {
  return statusMapping.toCanonical[phase];
}
