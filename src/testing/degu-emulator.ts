/**
 * A model of one Degu boot (docs/protocols/degu.md, "The boot sequence"), for tests and
 * simulations: report the MD5s,
 * check the order, update the flagged items, reboot. With `strictCompat` it reproduces the
 * reference firmware including its flaws — no verification of the download (D7: a wrong
 * `*_ver` means a download/reboot loop) and truncating `main.py` before the download (D9: a bad
 * URL leaves an empty script). Hardened (default), it downloads every item first, verifies each
 * MD5, and only then replaces the files, all or nothing.
 *
 * The CoAP leg is abstracted into `fetch` (what the gateway serves for an item); files are byte
 * arrays. Browser-safe, no I/O.
 *
 * @module
 */
import { IntegrityError, OtaError } from '../core/errors.js';
import { redactUrlWith } from '../core/redact.js';
import { checkUpdate, type DeguCompatOptions, type DeguUpdateItem } from '../protocols/degu/check.js';
import { bootReport, encodeReport, md5Ver } from '../protocols/degu/report.js';
import type { DeguBootRequest, DeguDesired, DeguItem } from '../protocols/degu/schemas.js';
import { ownSecrets } from '../protocols/degu/secrets.js';

/** The files of a simulated Degu. */
export interface DeguFiles {
  /** `/NAND:/main.py`; `null` when missing. */
  script: Uint8Array | null;
  /** `/NAND:/CONFIG`; `null` when missing. */
  config: Uint8Array | null;
  /** The running (slot 0) signed firmware image. */
  firmware: Uint8Array;
}

/** Options of {@link simulateBoot}. */
export interface SimulateBootOptions extends DeguCompatOptions {
  /** What `GET update/status` returns: the shadow's `desired`. */
  desired: DeguDesired | null | undefined;
  /**
   * The gateway's download of an item: resolves with the bytes, rejects when the gateway answers
   * 4.04 (bad URL) or anything else fails. `url` is `undefined` when `desired` has none.
   */
  fetch: (url: string | undefined, item: DeguItem) => Promise<Uint8Array>;
  /** The firmware version string the device reports. */
  firmwareVersion: string;
}

/** What one boot did. */
export interface BootResult {
  /** The report sent at start-up, before the check. */
  report: DeguBootRequest;
  /** The items the check flagged, in install order. */
  items: DeguUpdateItem[];
  /** The files after this boot (what the next boot starts from). */
  files: DeguFiles;
  /** Whether the device rebooted to run the update (a cold reboot after `do_update` succeeded). */
  rebooted: boolean;
  /** Why the update failed; the reference device keeps this to itself. */
  error?: OtaError;
}

const FILE_OF: Record<DeguItem, keyof DeguFiles> = {
  script_user: 'script',
  config_user: 'config',
  firmware_system: 'firmware',
};

/**
 * Runs one boot of a Degu.
 *
 * @example
 * ```ts
 * let files = { script: mainA, config: null, firmware: image }
 * const boot = await simulateBoot(files, { desired, fetch: async () => mainB, firmwareVersion: '1.0.0-rc1' })
 * files = boot.files // boot.rebooted === true: the next boot reports the new MD5
 * ```
 */
export async function simulateBoot(files: DeguFiles, options: SimulateBootOptions): Promise<BootResult> {
  const report = encodeReport(
    bootReport({
      script: files.script,
      config: files.config,
      firmware: files.firmware,
      firmwareVersion: options.firmwareVersion,
    }),
  );
  const { items } = checkUpdate(options.desired, report.state.reported, options);
  if (items.length === 0) return { report, items, files, rebooted: false };
  return options.strictCompat === true
    ? referenceUpdate(files, items, report, options)
    : hardenedUpdate(files, items, report, options);
}

function downloadError(entry: DeguUpdateItem, cause: unknown): OtaError {
  const where = entry.url === undefined ? '(no URL)' : redactUrlWith(entry.url, ownSecrets);
  return new OtaError('DOWNLOAD', `Degu gateway could not fetch ${entry.item} from ${where}`, {
    cause,
    retryable: true,
  });
}

/** `do_update()` as the firmware does it: destructive, unverified, stops at the first failure. */
async function referenceUpdate(
  files: DeguFiles,
  items: DeguUpdateItem[],
  report: DeguBootRequest,
  options: SimulateBootOptions,
): Promise<BootResult> {
  const next: DeguFiles = { ...files };
  for (const entry of items) {
    const file = FILE_OF[entry.item];
    // Script and config are deleted and re-created empty *before* the download (D9); the
    // firmware goes to slot 1, so slot 0 is untouched until a complete image is marked.
    if (file !== 'firmware') next[file] = new Uint8Array(0);
    try {
      const bytes = await options.fetch(entry.url, entry.item);
      if (file === 'firmware') next.firmware = bytes;
      else next[file] = bytes;
    } catch (cause) {
      return { report, items, files: next, rebooted: false, error: downloadError(entry, cause) };
    }
  }
  return { report, items, files: next, rebooted: true };
}

/** The hardened update: stage everything, verify every MD5, then replace all files at once. */
async function hardenedUpdate(
  files: DeguFiles,
  items: DeguUpdateItem[],
  report: DeguBootRequest,
  options: SimulateBootOptions,
): Promise<BootResult> {
  const staged = new Map<DeguItem, Uint8Array>();
  for (const entry of items) {
    let bytes: Uint8Array;
    try {
      bytes = await options.fetch(entry.url, entry.item);
    } catch (cause) {
      return { report, items, files, rebooted: false, error: downloadError(entry, cause) };
    }
    const actual = md5Ver(bytes);
    if (actual !== entry.md5) {
      const error = new IntegrityError(entry.item, { algorithm: 'md5', expected: entry.md5, actual });
      return { report, items, files, rebooted: false, error };
    }
    staged.set(entry.item, bytes);
  }
  const next: DeguFiles = { ...files };
  for (const [item, bytes] of staged) {
    const file = FILE_OF[item];
    if (file === 'firmware') next.firmware = bytes;
    else next[file] = bytes;
  }
  return { report, items, files: next, rebooted: true };
}
