/**
 * Reading a package's title back out of an update id. otakit names a ThingsBoard package
 * `fw:<title>@<version>` (`packageId`), and ThingsBoard's reports need the title
 * (`current_fw_title`), so the title is recovered from the id the machine carries.
 *
 * @module
 */
import { type PackageType, PREFIX } from './keys.js';

/**
 * The title in `id` when it is the package id of `type` for `version` (`fw:f@1.2` → `f`), else
 * `undefined` (an update that did not come from ThingsBoard, or an unknown version).
 */
export function titleFromPackageId(
  type: PackageType,
  id: string | null | undefined,
  version: string | null | undefined,
): string | undefined {
  if (id === null || id === undefined || version === null || version === undefined) return undefined;
  const head = `${PREFIX[type]}:`;
  const tail = `@${version}`;
  if (!id.startsWith(head) || !id.endsWith(tail) || id.length <= head.length + tail.length) return undefined;
  return id.slice(head.length, id.length - tail.length);
}
