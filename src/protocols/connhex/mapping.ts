/**
 * The nine Connhex OTA status words against the canonical states (the table in docs/protocols/connhex.md).
 *
 * @module
 */
import type { UpdateState } from '../../core/states.js';
import type { StatusMapping } from '../conversion.js';
import type { OtaStatus } from './schemas.js';

/**
 * Connhex ↔ canonical states. Every wire word maps to exactly one state. Going the other way,
 * two failures have no word of their own and borrow the nearest one (see
 * {@link NEAR_EQUIVALENTS}); five states have no word at all (`null`): the addon then says
 * nothing new and its periodic heartbeat repeats the last status.
 */
export const statusMapping: StatusMapping<OtaStatus> = {
  system: 'connhex',
  toCanonical: {
    checking: 'checking',
    check_failed: 'check_failed',
    update_available: 'available',
    downloading: 'downloading',
    download_failed: 'download_failed',
    update_ready: 'downloaded',
    updating: 'installing',
    update_failed: 'install_failed',
    updated: 'committed',
  },
  fromCanonical: {
    idle: null,
    checking: 'checking',
    available: 'update_available',
    downloading: 'downloading',
    downloaded: 'update_ready',
    verifying: null,
    installing: 'updating',
    installed: null,
    committed: 'updated',
    rolling_back: null,
    check_failed: 'check_failed',
    download_failed: 'download_failed',
    verify_failed: 'download_failed',
    install_failed: 'update_failed',
    rolled_back: 'update_failed',
    canceled: null,
  },
  notes: {
    idle: 'Connhex has no idle word: the addon keeps repeating its last status (often `updated`). A decoder given the previous state reads `updated` after a check with nothing new as idle.',
    verifying:
      'the addon has no verification step; the device keeps saying `downloading` until `update_ready`',
    installed: 'no awaiting-reboot or health-check word; the device keeps saying `updating` until `updated`',
    rolling_back: 'the addon never rolls back; the device keeps saying `updating` until the outcome',
    verify_failed:
      'a digest mismatch is reported as `download_failed` (the next check downloads again), with the integrity error in `error`',
    rolled_back: 'reported as `update_failed`, with the rollback in `error`',
    canceled:
      'no word of its own: the status encoder reports the failure word of the phase that was canceled (`check_failed`, `download_failed` or `update_failed`)',
  },
};

/**
 * The canonical states whose wire word reads back as a different (neighbouring) state:
 * `toCanonical[fromCanonical[s]] === NEAR_EQUIVALENTS[s]`. All other states with a word read back
 * as themselves.
 */
export const NEAR_EQUIVALENTS: Readonly<Partial<Record<UpdateState, UpdateState>>> = {
  verify_failed: 'download_failed',
  rolled_back: 'install_failed',
};
