/**
 * What the device side puts into the shadow: the boot-time `reported` document
 * (docs/protocols/degu.md, "The boot report"), a report of the items an update changed, and the
 * opt-in update that clears a finished order from `desired`.
 *
 * @module
 */
import SparkMD5 from 'spark-md5';
import { exactArrayBuffer } from '../../core/encoding.js';
import { parseWith } from '../../core/validate.js';
import type { Manifest } from '../../manifest/schema.js';
import type { DeguOrderRequest } from './codec.js';
import {
  DEGU_ITEMS,
  type DeguBootReport,
  type DeguBootRequest,
  DeguBootRequestSchema,
  type DeguDesiredPatch,
  type DeguItem,
  type DeguReportedPatch,
  DeguRequestSchema,
  itemOfTarget,
  MISSING_FILE_MD5,
  verKey,
} from './schemas.js';

/**
 * The `*_ver` value of a file: lowercase MD5 hex, or `"none"` when the file does not exist.
 * An empty file is not a missing one: it reports `d41d8cd98f00b204e9800998ecf8427e` (D2).
 */
export function md5Ver(bytes: Uint8Array | null | undefined): string {
  if (bytes === null || bytes === undefined) return MISSING_FILE_MD5;
  // spark-md5 hashes an ArrayBuffer; copy so a view into a larger buffer hashes only its bytes.
  return SparkMD5.ArrayBuffer.hash(exactArrayBuffer(bytes));
}

/** What the device holds, for {@link bootReport}. */
export interface DeguDeviceContent {
  /** `/NAND:/main.py`, `null` when missing. */
  script: Uint8Array | null;
  /** `/NAND:/CONFIG`, `null` when missing. */
  config: Uint8Array | null;
  /**
   * The running firmware image (the signed `degu.bin`), or its MD5 when already known: the
   * device hashes slot 0 over the MCUboot image size + 848 bytes of header and trailer.
   */
  firmware: Uint8Array | string;
  /** The firmware version string, e.g. `1.0.0-rc1`. */
  firmwareVersion?: string;
}

/** The MD5s the device reports at boot, computed from its files. */
export function bootReport(content: DeguDeviceContent): DeguBootReport {
  const report: DeguBootReport = {
    script_user_ver: md5Ver(content.script),
    config_user_ver: md5Ver(content.config),
    firmware_system_ver:
      typeof content.firmware === 'string' ? content.firmware.toLowerCase() : md5Ver(content.firmware),
  };
  if (content.firmwareVersion !== undefined) report.firmware_ver = content.firmwareVersion;
  return report;
}

/** Options of the request encoders. */
export interface EncodeRequestOptions {
  /** Echoed by AWS in the responses (≤ 64 bytes). */
  clientToken?: string;
}

/**
 * The boot report as the complete request document (`{"state":{"reported":…}}`), digests
 * lowercase. The sensor POSTs it to the gateway; over MQTT it goes to `/update`.
 *
 * @example
 * ```ts
 * encodeReport(bootReport({ script, config: null, firmware: 'c4ff…', firmwareVersion: '1.0.0-rc1' }))
 * // {"state":{"reported":{"script_user_ver":"100e…","config_user_ver":"none",…}}}   (vector D1)
 * ```
 * @throws ManifestError when a digest is not 32 hex characters or `"none"`.
 */
export function encodeReport(report: DeguBootReport, options: EncodeRequestOptions = {}): DeguBootRequest {
  const lower = (value: string) => value.toLowerCase();
  const reported: DeguBootReport = {
    script_user_ver: lower(report.script_user_ver),
    config_user_ver: lower(report.config_user_ver),
    firmware_system_ver: lower(report.firmware_system_ver),
  };
  if (report.firmware_ver !== undefined) reported.firmware_ver = report.firmware_ver;
  const request = {
    state: { reported },
    ...(options.clientToken === undefined ? {} : { clientToken: options.clientToken }),
  };
  return parseWith(DeguBootRequestSchema, request, 'Degu boot report');
}

/** A request document that reports some items' MD5s (`{"state":{"reported":…}}`). */
export interface DeguReportRequest {
  state: { reported: DeguReportedPatch };
  clientToken?: string;
}

/**
 * The request that reports what the device now runs for `items` only, digests lowercase. The
 * shadow merges it into `reported`, so the other items keep what the last full boot report said:
 * the same outcome as the sensor's next boot report, for the items an update changed.
 *
 * @example
 * ```ts
 * encodeItemsReport([{ item: 'script_user', md5: '4f3e01b7dc12348ebbd1acfe11ef6328' }])
 * // {"state":{"reported":{"script_user_ver":"4f3e01b7dc12348ebbd1acfe11ef6328"}}}
 * ```
 * @throws ManifestError when a digest is not 32 hex characters or `"none"`.
 */
export function encodeItemsReport(
  items: ReadonlyArray<{ item: DeguItem; md5: string }>,
  options: EncodeRequestOptions = {},
): DeguReportRequest {
  const reported: DeguReportedPatch = {};
  for (const { item, md5 } of items) reported[verKey(item)] = md5.toLowerCase();
  const request: DeguReportRequest = { state: { reported } };
  if (options.clientToken !== undefined) request.clientToken = options.clientToken;
  parseWith(DeguRequestSchema, request, 'Degu report');
  return request;
}

/** Options of {@link encodeClearDesired}. */
export interface ClearDesiredOptions extends EncodeRequestOptions {
  /** Optimistic lock: AWS applies the update only at this shadow version (409 otherwise). */
  version?: number;
}

/**
 * The update that removes finished orders from `desired` (`{"state":{"desired":{"script_user":
 * null,"script_user_ver":null}}}`, D11). **Opt-in, and not Degu behaviour**: the reference device
 * never clears `desired`, so its URL keys stay in the delta forever. An operator (or a service
 * that saw the reported MD5s match) may publish this to tidy up; clearing an order before the
 * device reported success cancels it silently.
 *
 * @param items the items to clear, or the manifest whose items to clear.
 * @default items all three items
 */
export function encodeClearDesired(
  items: readonly DeguItem[] | Pick<Manifest, 'artifacts'> = DEGU_ITEMS,
  options: ClearDesiredOptions = {},
): DeguOrderRequest & { version?: number } {
  const chosen = new Set<DeguItem>(
    'artifacts' in items
      ? items.artifacts.flatMap((artifact) => {
          const item = itemOfTarget(artifact.target);
          return item === undefined ? [] : [item];
        })
      : items,
  );
  const desired: DeguDesiredPatch = {};
  for (const item of DEGU_ITEMS) {
    if (!chosen.has(item)) continue;
    desired[item] = null;
    desired[verKey(item)] = null;
  }
  const request: DeguOrderRequest & { version?: number } = { state: { desired } };
  if (options.clientToken !== undefined) request.clientToken = options.clientToken;
  if (options.version !== undefined) request.version = options.version;
  parseWith(DeguRequestSchema, request, 'Degu clear-desired request');
  return request;
}
